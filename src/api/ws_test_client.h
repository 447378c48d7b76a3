// Test support: a WebSocket client (Boost.Beast) over a real socket, with reads that time
// out without losing the connection, for the real-time tests and the benchmark.
// Header-only; one thread per client.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <optional>
#include <string>

namespace dt::api::testing {

class WsTestClient {
 public:
  using tcp = boost::asio::ip::tcp;

  // Connects and upgrades; returns the HTTP status of the upgrade answer (101 on success,
  // e.g. 401 when refused; 0 when the connection failed). `receive_buffer` > 0 shrinks the
  // socket's receive buffer (a client that never reads then fills up quickly).
  unsigned Connect(uint16_t port, const std::string& target, int receive_buffer = 0) {
    boost::system::error_code ec;
    tcp::socket& s = ws_.next_layer();
    s.open(tcp::v4(), ec);
    if (receive_buffer > 0) s.set_option(boost::asio::socket_base::receive_buffer_size(receive_buffer), ec);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return 0;
    ws_.control_callback([this](boost::beast::websocket::frame_type kind, boost::beast::string_view) {
      if (kind == boost::beast::websocket::frame_type::ping) ++pings_;
    });
    ws_.handshake("127.0.0.1", target, ec);
    if (!ec) return 101;
    // Beast 1.74 does not hand out a declined handshake's response: ask again over a plain
    // connection to learn the status.
    return RefusalStatus(port, target);
  }

  // The next text message, or nullopt when none arrived within `timeout` (the read stays
  // pending for the next call) or the connection closed (closed() says which).
  std::optional<std::string> Read(std::chrono::milliseconds timeout) {
    if (closed_) return std::nullopt;
    if (!reading_) {
      reading_ = true;
      done_ = false;
      ws_.async_read(buffer_, [this](boost::system::error_code ec, size_t) {
        done_ = true;
        ec_ = ec;
      });
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done_ && std::chrono::steady_clock::now() < deadline) {
      if (io_.stopped()) io_.restart();
      io_.run_one_until(deadline);
    }
    if (!done_) return std::nullopt;
    reading_ = false;
    if (ec_) {
      closed_ = true;
      return std::nullopt;
    }
    std::string text = boost::beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    return text;
  }

  void Send(const std::string& text) {
    ws_.text(true);
    ws_.write(boost::asio::buffer(text));
  }

  // Closes the TCP connection without a close handshake (a client that vanishes).
  void Drop() {
    boost::system::error_code ec;
    ws_.next_layer().close(ec);
    closed_ = true;
  }

  static unsigned RefusalStatus(uint16_t port, const std::string& target) {
    namespace http = boost::beast::http;
    boost::asio::io_context io;
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return 0;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::sec_websocket_version, "13");
    req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    http::write(s, req, ec);
    boost::beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(s, b, res, ec);
    return ec ? 0 : res.result_int();
  }

  bool closed() const { return closed_; }
  int pings() const { return pings_; }

 private:
  boost::asio::io_context io_;
  boost::beast::websocket::stream<tcp::socket> ws_{io_};
  boost::beast::flat_buffer buffer_;
  bool reading_ = false, done_ = false, closed_ = false;
  boost::system::error_code ec_;
  int pings_ = 0;
};

}  // namespace dt::api::testing
