#include "readmodel/read_model_store.h"

#include "readmodel/pg_store.h"
#include "readmodel/sqlite_store.h"

namespace dt::readmodel {

std::string CheckDatabaseUrl(const std::string& url) {
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    if (path.empty()) return "sqlite: URL names no file (use sqlite:data/projections.db)";
    return {};
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return {};
  return "must be sqlite:<path> or postgresql://user:pass@host:port/db";
}

Result<std::unique_ptr<ReadModelStore>> OpenReadModelStore(const std::string& url) {
  std::string problem = CheckDatabaseUrl(url);
  if (!problem.empty()) return Status::InvalidArgument("DATABASE_URL: " + problem);
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    return OpenSqliteStore(path);
  }
  return OpenPgStore(url);
}

}  // namespace dt::readmodel
