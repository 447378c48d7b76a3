#include "http/test_client.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace dt::http {
namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

TestClient::TestClient(uint16_t port, std::string host)
    : socket_(io_), host_(std::move(host)), port_(port) {}

void TestClient::Connect() {
  beast::error_code ec;
  socket_.close(ec);
  socket_ = tcp::socket(io_);
  socket_.connect(tcp::endpoint(net::ip::make_address(host_), port_));
  socket_.set_option(tcp::no_delay(true));
}

Response TestClient::Do(Verb method, std::string target, std::string body, Headers headers) {
  Request req{method, target, 11};
  req.set(bhttp::field::host, host_);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == Verb::post || method == Verb::put) {
    req.body() = std::move(body);
    req.prepare_payload();
  }
  return Send(std::move(req));
}

Response TestClient::Send(Request request) {
  for (int attempt = 0;; ++attempt) {
    if (!socket_.is_open()) Connect();
    beast::error_code ec;
    bhttp::write(socket_, request, ec);
    if (!ec) {
      beast::flat_buffer buf;
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(1ull << 30);
      if (request.method() == Verb::head) parser.skip(true);
      bhttp::read(socket_, buf, parser, ec);
      if (!ec) {
        Response res = parser.release();
        if (!res.keep_alive()) socket_.close(ec);
        return res;
      }
    }
    socket_.close();
    // A kept-alive connection the server closed meanwhile: retry once on a new one.
    if (attempt > 0) throw boost::system::system_error(ec);
  }
}

void TestClient::WriteRaw(std::string_view bytes) {
  if (!socket_.is_open()) Connect();
  net::write(socket_, net::buffer(bytes.data(), bytes.size()));
}

void TestClient::ShutdownWrite() { socket_.shutdown(tcp::socket::shutdown_send); }

std::string TestClient::ReadRaw(std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    beast::error_code ec;
    size_t n = socket_.read_some(net::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

bool TestClient::ServerClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    beast::error_code ec;
    socket_.read_some(net::buffer(buf), ec);
    if (ec) return true;
  }
}

}  // namespace dt::http
