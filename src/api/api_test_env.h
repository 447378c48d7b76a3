// Test support for the API tests: a running App (real sockets, a real engine in a temp
// folder, SQLite or a fresh PostgreSQL schema) and a JSON client for it.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "api/app.h"
#include "client/remote_client.h"
#include "client/test_eventstore_process.h"
#include "http/test_client.h"
#include "readmodel/test_databases.h"

namespace dt::api::testing {

using nlohmann::json;

struct Reply {
  unsigned status = 0;
  json body;
  std::string raw;
  std::string etag;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  explicit Client(uint16_t port) : http_(port) {}
  void set_token(std::string t) { token_ = std::move(t); }

  Reply Do(http::Verb method, const std::string& target, const json& body = json(),
           std::vector<std::pair<std::string, std::string>> headers = {},
           const std::string* raw_body = nullptr) {
    http::Request req{method, target, 11};
    req.set(http::bhttp::field::host, "127.0.0.1");
    if (!token_.empty()) req.set(http::bhttp::field::authorization, "Bearer " + token_);
    for (auto& [k, v] : headers) req.set(k, v);
    if (raw_body) {
      req.body() = *raw_body;
    } else if (!body.is_null()) {
      req.body() = body.dump();
    }
    if (!req.body().empty() || method == http::Verb::post || method == http::Verb::put) {
      if (req.find(http::bhttp::field::content_type) == req.end()) {
        req.set(http::bhttp::field::content_type, "application/json");
      }
      req.prepare_payload();
    }
    auto res = http_.Send(std::move(req));
    Reply r;
    r.status = res.result_int();
    r.raw = res.body();
    r.body = json::parse(r.raw, nullptr, false);
    auto it = res.find(http::bhttp::field::etag);
    if (it != res.end()) r.etag = std::string(it->value());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r.headers[name] = std::string(f.value());
    }
    return r;
  }
  Reply Get(const std::string& t) { return Do(http::Verb::get, t); }
  Reply Post(const std::string& t, const json& b,
             std::vector<std::pair<std::string, std::string>> h = {}) {
    return Do(http::Verb::post, t, b, std::move(h));
  }
  Reply Put(const std::string& t, const json& b,
            std::vector<std::pair<std::string, std::string>> h = {}) {
    return Do(http::Verb::put, t, b, std::move(h));
  }
  Reply Delete(const std::string& t, const json& b = json(),
               std::vector<std::pair<std::string, std::string>> h = {}) {
    return Do(http::Verb::delete_, t, b, std::move(h));
  }

 private:
  http::TestClient http_;
  std::string token_;
};

// True when the remote event store cases can run (a dt-eventstore to start, or a URL).
inline bool HaveRemoteEventStore() {
  return !client::testing::ExternalEventStoreUrl().empty() ||
         !client::testing::EventStoreBin().empty();
}

// A running API over temp storage. `mode` is "sqlite" or "pg" (the engine in-process), or
// "remote_sqlite" / "remote_pg" (a dt-eventstore process, or DT_TEST_EVENTSTORE_URL).
class ApiEnv {
 public:
  explicit ApiEnv(const std::string& mode) {
    dir_ = readmodel::testing::TempDir("api");
    config_.port = 0;
    config_.bind = "127.0.0.1";
    if (mode.rfind("remote", 0) == 0) {
      std::string url = client::testing::ExternalEventStoreUrl();
      if (url.empty()) {
        eventstore_ = std::make_unique<client::testing::EventStoreProcess>(
            client::testing::EventStoreBin(), dir_);
        url = eventstore_->url();
        WaitForEventStore(url);
      }
      config_.eventstore_url = url;
    } else {
      config_.eventstore_url = "file:" + dir_ + "/eventstore";
    }
    bool pg = mode.size() >= 2 && mode.substr(mode.size() - 2) == "pg";
    config_.database_url = pg ? readmodel::testing::FreshPgDatabaseUrl()
                              : "sqlite:" + dir_ + "/projections.db";
    config_.jwt_secret = "test-secret-0123456789abcdef";
    config_.bootstrap_users = "alice:pw-alice,bob:pw-bob";
    config_.admin_users = {"alice"};  // bob is an ordinary user
    config_.data_dir = dir_;
    config_.workers = 32;
  }
  // A second environment on the same event store and read model (several instances).
  ApiEnv(const ApiEnv& other, int) : dir_(readmodel::testing::TempDir("api")), config_(other.config_) {}
  ~ApiEnv() {
    app_.reset();
    eventstore_.reset();
    std::filesystem::remove_all(dir_);
  }
  static void WaitForEventStore(const std::string& url) {
    client::RemoteOptions o;
    o.url = url;
    auto c = client::RemoteClient::Create(o);
    for (int i = 0; i < 400 && c.ok(); ++i) {
      if ((*c)->ReadHead().ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  Config& config() { return config_; }
  void Start() {
    auto app = App::Create(config_);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::move(app).value();
    ASSERT_TRUE(app_->Start().ok());
  }
  void Stop() { app_.reset(); }
  App& app() { return *app_; }
  uint16_t port() { return app_->port(); }

  // A client logged in as `user` (password "pw-<user>").
  std::unique_ptr<Client> Login(const std::string& user) {
    auto c = std::make_unique<Client>(port());
    auto r = c->Post("/api/auth/login", {{"username", user}, {"password", "pw-" + user}});
    EXPECT_EQ(r.status, 200u) << r.raw;
    c->set_token(r.body.value("token", ""));
    return c;
  }

  // Domain events in the event store (contact-, transaction-, settings- streams).
  size_t CountDomainEvents() {
    size_t n = 0;
    client::AllPosition pos;
    for (;;) {
      auto page = app_->events().ReadAllForward(pos, 1000, std::chrono::milliseconds(0));
      EXPECT_TRUE(page.ok());
      if (!page.ok()) return n;
      for (const auto& e : page->events) {
        if (e.stream.rfind("contact-", 0) == 0 || e.stream.rfind("transaction-", 0) == 0 ||
            e.stream.rfind("settings-", 0) == 0) {
          ++n;
        }
      }
      if (page->events.empty() || page->end_of_log) {
        if (page->next == pos) return n;
      }
      pos = page->next;
      if (page->end_of_log) return n;
    }
  }

 private:
  std::string dir_;
  Config config_;
  std::unique_ptr<client::testing::EventStoreProcess> eventstore_;
  std::unique_ptr<App> app_;
};

}  // namespace dt::api::testing
