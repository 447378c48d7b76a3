// TestClient: a small blocking HTTP/1.1 client over a real socket, for tests of both
// servers (keeps its connection alive between requests, reconnects when the server
// closed it). Not for production use: no TLS, no redirects.
//
// Thread-safety: one thread per client.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <initializer_list>
#include <string>
#include <utility>

#include "http/exchange.h"

namespace dt::http {

class TestClient {
 public:
  explicit TestClient(uint16_t port, std::string host = "127.0.0.1");

  using Headers = std::initializer_list<std::pair<std::string, std::string>>;
  // Sends one request and reads its response. Throws boost::system::system_error on a
  // socket error (tests treat that as a failure).
  Response Do(Verb method, std::string target, std::string body = {}, Headers headers = {});
  Response Send(Request request);

  // Raw bytes, for malformed, slow or truncated requests.
  void Connect();
  void WriteRaw(std::string_view bytes);
  void ShutdownWrite();
  // Reads until the server closes or `timeout` passes; returns what arrived.
  std::string ReadRaw(std::chrono::milliseconds timeout);
  // True when the server closed the connection (a read returns EOF within `timeout`).
  bool ServerClosed(std::chrono::milliseconds timeout);

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string host_;
  uint16_t port_;
  std::string buffer_;
};

}  // namespace dt::http
