#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>

#include "http/websocket_session.h"

namespace dt::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

class WebSocketSession : public WebSocket,
                         public Connection,
                         public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(std::shared_ptr<Server::Core> core, std::string id, net::any_io_executor strand)
      : core_(std::move(core)), id_(std::move(id)), strand_(std::move(strand)) {}

  void Start(beast::tcp_stream stream, Request upgrade) {
    ws_.emplace(std::move(stream));
    auto self = shared_from_this();
    core_->Add(self);
    if (core_->websockets_active) core_->websockets_active->Inc();
    net::dispatch(ws_->get_executor(), [self, req = std::move(upgrade)]() mutable {
      const auto& o = self->core_->options;
      websocket::stream_base::timeout t{};
      t.handshake_timeout = std::chrono::seconds(10);
      t.idle_timeout = o.websocket.idle_timeout;
      t.keep_alive_pings = true;
      beast::get_lowest_layer(*self->ws_).expires_never();
      self->ws_->set_option(t);
      self->ws_->read_message_max(o.websocket.max_message_bytes);
      std::string server = o.server_name;
      self->ws_->set_option(websocket::stream_base::decorator(
          [server](websocket::response_type& res) { res.set(bhttp::field::server, server); }));
      auto& request = req;
      self->ws_->async_accept(request, [self](beast::error_code ec) {
        if (ec) return self->Finish();
        self->open_ = true;
        self->DoRead();
        self->DoWrite();
        if (self->stop_requested_) self->Close();
      });
    });
  }

  bool Send(std::string text) override {
    if (finished_.load()) return false;
    posted_.fetch_add(1);
    net::post(executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      self->posted_.fetch_sub(1);
      self->Enqueue(std::move(text));
    });
    return queued_.load() < core_->options.websocket.max_queued_messages;
  }

  void Close() override {
    net::post(executor(), [self = shared_from_this()] { self->StartClose(); });
  }

  void Shutdown() override {
    stop_requested_ = true;
    Close();
  }

  void ForceClose() override {
    beast::error_code ec;
    if (ws_) beast::get_lowest_layer(*ws_).socket().close(ec);
  }

  bool closed() const override { return finished_.load(); }
  size_t queued() const override { return queued_.load() + posted_.load(); }
  const std::string& id() const override { return id_; }

 private:
  const net::any_io_executor& executor() const { return strand_; }

  void Enqueue(std::string text) {
    if (finished_) return;
    const auto& o = core_->options.websocket;
    bool stuck = writing_ && std::chrono::steady_clock::now() - write_started_ > o.write_timeout;
    if (queue_.size() >= o.max_queued_messages || stuck) {
      spdlog::warn("websocket {}: client is not reading ({} messages queued); dropping it", id_,
                   queue_.size());
      return Abort();
    }
    queue_.push_back(std::move(text));
    queued_.store(queue_.size());
    DoWrite();
  }

  void DoWrite() {
    if (!open_ || writing_ || closing_ || queue_.empty()) return;
    writing_ = true;
    write_started_ = std::chrono::steady_clock::now();
    ws_->text(true);
    ws_->async_write(net::buffer(queue_.front()),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->writing_ = false;
                       if (ec) return self->Finish();
                       self->queue_.pop_front();
                       self->queued_.store(self->queue_.size());
                       if (self->closing_) return self->StartClose();
                       self->DoWrite();
                     });
  }

  void DoRead() {
    ws_->async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Finish();
      if (self->ws_->got_text() && self->on_message) {
        std::string msg = beast::buffers_to_string(self->buffer_.data());
        try {
          self->on_message(std::move(msg));
        } catch (const std::exception& e) {
          spdlog::error("websocket {}: on_message threw: {}", self->id_, e.what());
        }
      }
      self->buffer_.consume(self->buffer_.size());
      self->DoRead();
    });
  }

  void StartClose() {
    if (finished_ || !ws_) return;
    if (!open_) return;  // the handshake completion checks stop_requested_
    closing_ = true;
    if (writing_ || close_sent_) return;  // after the write in flight
    close_sent_ = true;
    ws_->async_close(websocket::close_code::going_away,
                     [self = shared_from_this()](beast::error_code) { self->Finish(); });
  }

  void Abort() {
    Finish();
  }

  void Finish() {
    if (finished_.exchange(true)) return;
    beast::error_code ec;
    if (ws_) beast::get_lowest_layer(*ws_).socket().close(ec);
    queue_.clear();
    queued_.store(0);
    if (on_close) {
      try {
        on_close();
      } catch (const std::exception& e) {
        spdlog::error("websocket {}: on_close threw: {}", id_, e.what());
      }
    }
    on_message = nullptr;
    on_close = nullptr;
    if (core_->websockets_active) core_->websockets_active->Dec();
    core_->Remove(this);
  }

  std::shared_ptr<Server::Core> core_;
  const std::string id_;
  const net::any_io_executor strand_;  // the connection's strand (also the stream's)
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;           // on the strand
  std::atomic<size_t> queued_{0};
  std::atomic<size_t> posted_{0};           // Send()s not yet run on the strand
  std::atomic<bool> finished_{false};
  std::atomic<bool> stop_requested_{false};
  bool open_ = false, writing_ = false, closing_ = false, close_sent_ = false;
  std::chrono::steady_clock::time_point write_started_{};
};

}  // namespace

std::shared_ptr<WebSocket> NewWebSocket(std::shared_ptr<Server::Core> core, std::string id,
                                        boost::asio::any_io_executor strand) {
  return std::make_shared<WebSocketSession>(std::move(core), std::move(id), std::move(strand));
}

void AcceptWebSocket(const std::shared_ptr<WebSocket>& ws, beast::tcp_stream stream,
                     Request upgrade) {
  static_cast<WebSocketSession*>(ws.get())->Start(std::move(stream), std::move(upgrade));
}

}  // namespace dt::http
