// RemoteClient: EventStoreClient over the EventStoreDB HTTP API (AtomPub).
//
// Uses only what a real EventStoreDB/KurrentDB node with AtomPub over HTTP enabled offers:
//  - append:  POST /streams/{s}, Content-Type application/vnd.eventstore.events+json,
//             ES-ExpectedVersion; 201 + Location .../{firstEventNumber}; wrong version:
//             400 + ES-CurrentVersion; 410 for a tombstoned stream.
//  - read:    GET /streams/{s}/{n}/forward|backward/{count}?embed=body (entries newest first).
//  - $all:    GET /streams/%24all/{pos}/forward/{count}?embed=body with ES-LongPoll; the
//             page's "previous" link names where the next page starts.
// HTTP Basic auth on every request. Keep-alive connections are pooled (bounded); a request
// that fails on a reused connection is retried once on a fresh one. Asio resolves and
// connects; requests then use the socket directly (blocking send/recv, each bounded by
// SO_RCVTIMEO/SO_SNDTIMEO, the whole exchange by request_timeout). Feeds are parsed with
// simdjson.
//
// AppendAsync does not hold the calling thread: the request is written out on the caller's
// thread and handed to an I/O thread of the client's (async_http.h, made on first use) that
// sends it on a pool of up to max_idle_connections keep-alive connections of its own, one
// request in flight on each, and runs `done` when the answer comes (so `done` must be
// quick). Same answers and errors as Append: a request not answered within request_timeout
// (waiting for a free connection included) fails with kUnavailable; one that fails on a
// reused connection before any answer is retried once. Destroying the client fails the
// appends in flight with kUnavailable (each `done` runs once, before the destructor returns).
//
// Thread-safety: all methods, any thread (each request takes its own pooled connection).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/event_store_client.h"

namespace dt::client {

struct RemoteOptions {
  std::string url;  // http://host[:port][/base]
  std::string username = "admin";
  std::string password = "changeit";
  std::chrono::milliseconds request_timeout{30000};  // per request, plus any long poll
  size_t max_idle_connections = 64;
};

class RemoteClient final : public EventStoreClient {
 public:
  // Validates the URL (no connection is made yet). kInvalidArgument for a bad URL.
  static Result<std::unique_ptr<RemoteClient>> Create(const RemoteOptions& options);
  ~RemoteClient() override;

  Result<AppendResult> Append(std::string_view stream, int64_t expected_version,
                              std::vector<ProposedEvent> events) override;
  void AppendAsync(std::string_view stream, int64_t expected_version,
                   std::vector<ProposedEvent> events, AppendCallback done) override;
  void StopAppends() override;
  Result<StreamPage> ReadStreamForward(std::string_view stream, int64_t from,
                                       size_t max_count) override;
  Result<StreamPage> ReadStreamBackward(std::string_view stream, int64_t from,
                                        size_t max_count) override;
  Result<AllPage> ReadAllForward(const AllPosition& from, size_t max_count,
                                 std::chrono::milliseconds long_poll) override;
  Result<AllPosition> ReadHead() override;
  std::string Describe() const override;

  struct Impl;

 private:
  explicit RemoteClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dt::client
