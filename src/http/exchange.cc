#include "http/exchange.h"

#include <atomic>
#include <mutex>

#include "http/url.h"

namespace dt::http {

std::string_view Exchange::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::string> Exchange::Query(std::string_view name) const {
  return QueryValue(query, name);
}

std::string_view Exchange::Header(std::string_view name) const {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  if (it == request.end()) return {};
  auto v = it->value();
  return {v.data(), v.size()};
}

Exchange MakeExchange(Request request) {
  Exchange ex;
  auto target = request.target();
  std::string_view t(target.data(), target.size());
  size_t q = t.find('?');
  ex.path = std::string(t.substr(0, q));
  if (q != std::string_view::npos) ex.query = std::string(t.substr(q + 1));
  ex.request = std::move(request);
  return ex;
}

Response MakeResponse(HttpStatus status, std::string body, std::string_view content_type) {
  Response res{status, 11};
  if (!content_type.empty()) {
    res.set(bhttp::field::content_type,
            boost::beast::string_view(content_type.data(), content_type.size()));
  }
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response JsonResponse(HttpStatus status, std::string json) {
  return MakeResponse(status, std::move(json), "application/json; charset=utf-8");
}

Response ErrorResponse(HttpStatus status, std::string_view message) {
  Response res = MakeResponse(status, std::string(message) + "\n");
  // The reason phrase carries the message too (clients such as EventStoreDB's read it),
  // limited to characters allowed in a reason phrase.
  std::string reason;
  for (char c : message.substr(0, 200)) {
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) reason.push_back(c);
  }
  if (!reason.empty()) res.reason(reason);
  return res;
}

struct Reply::State {
  explicit State(Sink s) : sink(std::move(s)) {}
  ~State() {
    if (!done.exchange(true)) {
      sink(ErrorResponse(HttpStatus::internal_server_error, "The handler gave no response"));
    }
  }
  Sink sink;
  std::atomic<bool> done{false};
};

Reply::Reply(Sink sink) : state_(std::make_shared<State>(std::move(sink))) {}

void Reply::operator()(Response response) const {
  if (!state_->done.exchange(true)) state_->sink(std::move(response));
}

bool Reply::answered() const { return state_->done.load(); }

}  // namespace dt::http
