// Test support: read-model databases for tests, one fresh database per test.
//   SQLite: a file in a new temporary folder.
//   PostgreSQL: a new schema in the server named by DT_TEST_PG_URL (set by ./manage.sh test),
//   reached through a URL whose search_path points at it, so tests run in parallel.
// Header-only; tests only.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace dt::readmodel::testing {

inline std::string TempDir(const std::string& tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("dt-" + tag + "-XXXXXX")).string();
  char* made = ::mkdtemp(tmpl.data());
  return made ? std::string(made) : std::string();
}

inline const char* PgUrl() {
  const char* u = std::getenv("DT_TEST_PG_URL");
  return (u && *u) ? u : nullptr;
}

// Creates a fresh schema and returns a DATABASE_URL using it ("" when no PostgreSQL).
inline std::string FreshPgDatabaseUrl() {
  const char* base = PgUrl();
  if (!base) return {};
  std::mt19937_64 rng(std::random_device{}());
  std::string schema = "t";  // appended, not "t" + ...: g++ 12 -O3 -Wrestrict false positive
  schema += std::to_string(::getpid());
  schema += '_';
  schema += std::to_string(rng() % 100000000);
  PGconn* c = PQconnectdb(base);
  if (PQstatus(c) != CONNECTION_OK) {
    PQfinish(c);
    return {};
  }
  PGresult* r = PQexec(c, ("CREATE SCHEMA " + schema).c_str());
  PQclear(r);
  PQfinish(c);
  std::string url = base;
  url += (url.find('?') == std::string::npos ? "?" : "&");
  url += "options=-csearch_path%3D" + schema;
  return url;
}

}  // namespace dt::readmodel::testing
