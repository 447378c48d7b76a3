// WebSocket: one accepted WebSocket connection (RFC 6455), text frames.
//
// What it is for: push channels such as the Debt Tracker API's /ws. A route whose
// handler is a WebSocketHandler (router.h) gets the upgrade request and a WebSocket
// before the handshake; it sets the callbacks and keeps the shared_ptr (e.g. in a
// subscriber list). The server then completes the handshake.
//
// Bounded by design: one write in flight and at most max_queued_messages queued
// (WebSocketOptions in server.h); a client that falls further behind, or whose write
// stays in flight longer than write_timeout, is dropped, so a client that stops reading
// never slows anyone else or grows memory. Pings are sent when the connection is idle
// for half of idle_timeout; a client silent for idle_timeout is dropped.
//
// Thread-safety: Send, Close, closed(), queued() and id() from any thread. Callbacks run on the
// connection's strand, one at a time; they must not block.
// Lifetime: the server keeps the connection alive until it closes; keeping the
// shared_ptr after on_close is harmless (Send then does nothing).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace dt::http {

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Set these in the WebSocketHandler, before it returns.
  std::function<void(std::string text)> on_message;  // each complete text message received
  std::function<void()> on_close;                    // once, when the connection ends

  // Queues a text message. Returns false (and drops the client) when the queue is full;
  // false without effect when already closed.
  virtual bool Send(std::string text) = 0;
  // Starts a clean close (close frame, "going away").
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  // Messages accepted by Send and not yet written (queued, or on their way to the queue):
  // lets a producer with much to send (a replay) keep below max_queued_messages.
  virtual size_t queued() const = 0;
  // The request id of the upgrade request.
  virtual const std::string& id() const = 0;
};

}  // namespace dt::http
