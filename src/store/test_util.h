// test_util.h: helpers for the engine's tests (temporary folders, events).
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "store/store.h"

namespace dt::store::testing {

// A fresh folder under $TMPDIR, removed (with its contents) at destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/dt-store-test-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline EventData MakeEvent(std::string type, std::string data, Uuid id = Uuid::Random()) {
  EventData e;
  e.id = id;
  e.type = std::move(type);
  e.data = std::move(data);
  e.metadata = "{}";
  e.is_json = true;
  return e;
}

inline std::vector<EventData> MakeEvents(int n, const std::string& prefix = "e") {
  std::vector<EventData> v;
  for (int i = 0; i < n; ++i)
    v.push_back(MakeEvent("Type" + std::to_string(i % 3), "{\"" + prefix + "\":" + std::to_string(i) + "}"));
  return v;
}

}  // namespace dt::store::testing
