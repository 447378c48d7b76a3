// Api: the Debt Tracker HTTP API (../shared/docs/api-contract.md) as plain handlers from an
// http::Exchange to an http::Response, and the one table of its routes (Routes()).
//
// Every /api route except login (and register, when enabled) needs `Authorization: Bearer
// <JWT>`; a user sees only their own data (another user's ids answer 404).
// Writes go through TrackerService (event store) and are answered only once the read model
// has applied the event (read-your-writes, bounded by read_your_writes_timeout): they are
// asynchronous handlers whose Reply the projector calls after the commit that has the event
// (no worker thread waits for it). Reads come from the read model. All /api routes run on
// the server's worker pool (they block on the event store and the database).
//
// Thread-safety: handlers may run on many threads at once. Lifetime: everything in ApiDeps
// must outlive the Api and the routes it built.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "client/event_store_client.h"
#include "http/router.h"
#include "readmodel/projector.h"
#include "readmodel/read_model_store.h"
#include "tracker/jwt.h"
#include "tracker/tracker_service.h"
#include "tracker/user_service.h"

namespace dt::api {

class LiveContacts;

struct ApiDeps {
  client::EventStoreClient* events = nullptr;
  readmodel::ReadModelStore* store = nullptr;
  readmodel::Projector* projector = nullptr;
  tracker::TrackerService* tracker = nullptr;
  // The live contacts known without a query (remote event store only; else null).
  LiveContacts* contacts = nullptr;
  tracker::UserService* users = nullptr;
  const tracker::JwtSigner* jwt = nullptr;
  std::chrono::milliseconds read_your_writes_timeout{std::chrono::seconds(5)};
  bool allow_registration = false;
  // user ids (UserService::UserIdFor) allowed the server-wide admin operations.
  std::vector<std::string> admin_user_ids;
};

class Api {
 public:
  explicit Api(ApiDeps deps) : d_(deps) {}

  std::vector<http::Route> Routes();

  // Handlers (public for tests that call them without sockets). The writes answer through
  // their Reply, possibly later and from the projector's thread.
  http::Response Health(const http::Exchange& ex);
  http::Response Login(const http::Exchange& ex);
  http::Response Register(const http::Exchange& ex);
  http::Response ListContacts(const http::Exchange& ex);
  http::Response GetContact(const http::Exchange& ex);
  void CreateContact(http::Exchange ex, http::Reply reply);
  void UpdateContact(http::Exchange ex, http::Reply reply);
  void DeleteContact(http::Exchange ex, http::Reply reply);
  http::Response ContactEvents(const http::Exchange& ex);
  http::Response ListTransactions(const http::Exchange& ex);
  http::Response GetTransaction(const http::Exchange& ex);
  void CreateTransaction(http::Exchange ex, http::Reply reply);
  void UpdateTransaction(http::Exchange ex, http::Reply reply);
  void DeleteTransaction(http::Exchange ex, http::Reply reply);
  http::Response TransactionEvents(const http::Exchange& ex);
  http::Response Balances(const http::Exchange& ex);
  http::Response GetSettings(const http::Exchange& ex);
  void PutSetting(http::Exchange ex, http::Reply reply);
  http::Response AdminEvents(const http::Exchange& ex);
  http::Response ProjectionStatus(const http::Exchange& ex);
  http::Response ProjectionRebuild(const http::Exchange& ex);

 private:
  // Whether a create may run on the I/O thread it arrived on (see CreateTransaction).
  bool MayWriteHere(const http::Exchange& ex) const;

  ApiDeps d_;
};

}  // namespace dt::api
