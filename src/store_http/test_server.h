// TestServer: a real dt-eventstore stack (engine in a fresh temporary folder, the
// service, an http::Server on a free port) for tests over real sockets.
//
// Thread-safety: one test thread. The destructor stops everything and removes the folder.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "http/basic_auth.h"
#include "http/metrics.h"
#include "http/server.h"
#include "http/test_client.h"
#include "store/store.h"
#include "store_http/service.h"

namespace dt::store_http {

class TestServer {
 public:
  explicit TestServer(ServiceOptions svc = {}, http::ServerOptions ho = {}) {
    char tmpl[] = "/tmp/dt-store-http-test.XXXXXX";
    folder_ = mkdtemp(tmpl);
    store::Options so;
    so.folder = folder_;
    so.segment_bytes = 8u << 20;
    auto st = store::Store::Open(so);
    if (!st.ok()) throw std::runtime_error(st.status().ToString());
    store_ = std::move(st).value();
    service_ = std::make_unique<EventStoreService>(*store_, svc, metrics_);
    router_ = std::make_unique<http::Router>(service_->Routes());
    ho.port = 0;
    if (ho.max_body_bytes == http::ServerOptions{}.max_body_bytes) ho.max_body_bytes = 16u << 20;
    ho.access_log = false;
    ho.metrics = &metrics_;
    server_ = std::make_unique<http::Server>(ho, *router_);
    auto s = server_->Start();
    if (!s.ok()) throw std::runtime_error(s.ToString());
    service_->SetBoundPort(server_->port());
  }
  ~TestServer() {
    service_->Shutdown();
    server_->Stop();
    (void)store_->Close();
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }
  uint16_t port() const { return server_->port(); }
  store::Store& store() { return *store_; }
  http::Router& router() { return *router_; }

 private:
  std::string folder_;
  http::Registry metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EventStoreService> service_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<http::Server> server_;
};

inline const std::string kAdminAuth = "Basic " + http::Base64Encode("admin:changeit");
inline constexpr char kEventsJson[] = "application/vnd.eventstore.events+json";

}  // namespace dt::store_http
