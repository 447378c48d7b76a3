// App: one running Debt Tracker API: event store client, read model, projector, services,
// the HTTP server. dt-server's main() and the end-to-end tests start it the same way.
//
// Start order: open the event store client and the read model (schema migrated), create
// the bootstrap users, start the projector (standby until it holds the projector lock) and
// the real-time hub, then listen. Stop(): stop accepting and finish in-flight requests (and
// close the WebSockets), then stop the hub and the projector, then close the stores.
//
// Thread-safety: Create/Start/Stop from one controlling thread.
#pragma once

#include <memory>

#include "api/api.h"
#include "api/config.h"
#include "http/server.h"

namespace dt::http {
class Registry;
}
namespace dt::tracker {
class SyncService;
class UndoService;
}  // namespace dt::tracker

namespace dt::api {

class LiveContacts;
class OpsEndpoints;
class RealtimeHub;
class SyncApi;

class App {
 public:
  static Result<std::unique_ptr<App>> Create(const Config& config);
  ~App();

  Status Start();  // binds config.port (0: a free port)
  void Stop();
  uint16_t port() const;

  client::EventStoreClient& events() { return *events_; }
  readmodel::ReadModelStore& store() { return *store_; }
  readmodel::Projector& projector() { return *projector_; }
  RealtimeHub& hub() { return *hub_; }

 private:
  App() = default;
  Config config_;
  std::unique_ptr<client::EventStoreClient> events_;
  std::unique_ptr<readmodel::ReadModelStore> store_;
  std::unique_ptr<readmodel::Projector> projector_;
  std::unique_ptr<LiveContacts> contacts_;  // remote event store only
  std::unique_ptr<tracker::TrackerService> tracker_;
  std::unique_ptr<tracker::UserService> users_;
  std::unique_ptr<tracker::JwtSigner> jwt_;
  std::unique_ptr<http::Registry> metrics_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<OpsEndpoints> ops_;
  std::unique_ptr<tracker::SyncService> sync_;
  std::unique_ptr<tracker::UndoService> undo_;
  std::unique_ptr<RealtimeHub> hub_;
  std::unique_ptr<SyncApi> sync_api_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace dt::api
