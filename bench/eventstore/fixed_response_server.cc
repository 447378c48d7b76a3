// The ceiling of this machine for the HTTP benchmarks: a minimal Boost.Beast server that
// answers every request with the same small response, on the same number of I/O
// threads as dt-eventstore, under the same load tool.
//
// Usage: fixed_response_server <port> <threads>   (port 0: prints the chosen port)
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without it (Boost 1.74)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : stream_(std::move(s)) {}
  void Read() {
    req_ = {};
    http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      self->Write();
    });
  }

 private:
  void Write() {
    res_ = {http::status::created, req_.version()};
    res_.set(http::field::location, "http://127.0.0.1/streams/x/0");
    res_.keep_alive(req_.keep_alive());
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) return;
      self->Read();
    });
  }
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::empty_body> res_;
};

void Accept(tcp::acceptor& acceptor, net::io_context& io) {
  acceptor.async_accept(net::make_strand(io), [&](beast::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s))->Read();
    }
    Accept(acceptor, io);
  });
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <port> <threads>\n", argv[0]);
    return 2;
  }
  int threads = std::max(1, std::atoi(argv[2]));
  net::io_context io(threads);
  tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(std::atoi(argv[1]))});
  std::printf("ready: http://127.0.0.1:%u/\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  Accept(acceptor, io);
  std::vector<std::thread> ts;
  for (int i = 1; i < threads; ++i) ts.emplace_back([&] { io.run(); });
  io.run();
}
