#include "client/remote_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

#include "client/time_util.h"
#include "common/text_codec.h"

namespace dt::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr char kEventsContentType[] = "application/vnd.eventstore.events+json";
constexpr char kAtomAccept[] = "application/vnd.eventstore.atom+json";
constexpr size_t kMaxResponseBytes = 256u << 20;

std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// One pooled keep-alive connection.
struct Connection {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
};

}  // namespace

struct RemoteClient::Impl {
  RemoteOptions options;
  std::string host;
  std::string port;
  std::string base;  // path prefix without trailing '/'
  std::string authorization;
  std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;  // GUARDED_BY(mu)

  std::unique_ptr<Connection> Take() {
    std::lock_guard lock(mu);
    if (idle.empty()) return nullptr;
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }
  void Give(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu);
    if (idle.size() < options.max_idle_connections) idle.push_back(std::move(c));
  }

  Result<std::unique_ptr<Connection>> Connect() {
    auto c = std::make_unique<Connection>();
    boost::system::error_code ec;
    tcp::resolver resolver(c->ioc);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return Status::Unavailable("cannot resolve " + host + ": " + ec.message());
    c->stream.expires_after(std::chrono::seconds(10));
    bool done = false;
    c->stream.async_connect(endpoints, [&](boost::system::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    c->ioc.run();
    c->ioc.restart();
    if (!done || ec) {
      return Status::Unavailable("cannot connect to event store at " + options.url + ": " +
                                 ec.message());
    }
    c->stream.socket().set_option(tcp::no_delay(true), ec);
    return c;
  }

  // One exchange on one connection; false in `io_ok` when the connection broke.
  bool Exchange(Connection& c, http::request<http::string_body>& req,
                http::response_parser<http::string_body>& parser,
                std::chrono::milliseconds timeout, boost::system::error_code& ec) {
    c.stream.expires_after(timeout);
    bool failed = false;
    http::async_write(c.stream, req, [&](boost::system::error_code e, size_t) {
      if (e) {
        ec = e;
        failed = true;
        return;
      }
      http::async_read(c.stream, c.buffer, parser,
                       [&](boost::system::error_code e2, size_t) {
                         if (e2) {
                           ec = e2;
                           failed = true;
                         }
                       });
    });
    c.ioc.run();
    c.ioc.restart();
    return !failed;
  }

  Result<http::response<http::string_body>> Request(http::verb verb, const std::string& target,
                                                    std::string body,
                                                    std::vector<std::pair<std::string, std::string>>
                                                        headers,
                                                    std::chrono::milliseconds extra_wait = {}) {
    http::request<http::string_body> req{verb, base + target, 11};
    req.set(http::field::host, host + ":" + port);
    req.set(http::field::authorization, authorization);
    req.set(http::field::user_agent, "dt-server");
    req.keep_alive(true);
    for (auto& [k, v] : headers) req.set(k, v);
    if (verb == http::verb::post || verb == http::verb::put) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto conn = Take();
      bool reused = conn != nullptr;
      if (!conn) {
        auto made = Connect();
        if (!made.ok()) return made.status();
        conn = std::move(made).value();
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxResponseBytes);
      boost::system::error_code ec;
      if (Exchange(*conn, req, parser, options.request_timeout + extra_wait, ec)) {
        auto res = parser.release();
        if (res.keep_alive()) Give(std::move(conn));
        return res;
      }
      if (!reused || ec == beast::error::timeout) {
        return Status::Unavailable("event store at " + options.url + " did not answer: " +
                                   ec.message());
      }
      // A pooled connection the server closed meanwhile: retry once on a fresh one.
    }
    return Status::Unavailable("event store at " + options.url + " closed the connection");
  }
};

Result<std::unique_ptr<RemoteClient>> RemoteClient::Create(const RemoteOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::string_view url = options.url;
  if (url.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("event store URL must start with http:// (got '" +
                                   options.url + "')");
  }
  url.remove_prefix(7);
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = url.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    impl->base = std::string(path);
  }
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    impl->host = std::string(authority);
    impl->port = "2113";
  } else {
    impl->host = std::string(authority.substr(0, colon));
    impl->port = std::string(authority.substr(colon + 1));
    auto p = ParseInt(impl->port);
    if (!p || *p <= 0 || *p > 65535) {
      return Status::InvalidArgument("bad port in event store URL '" + options.url + "'");
    }
  }
  if (impl->host.empty()) {
    return Status::InvalidArgument("no host in event store URL '" + options.url + "'");
  }
  impl->authorization = "Basic " + Base64Encode(options.username + ":" + options.password);
  return std::unique_ptr<RemoteClient>(new RemoteClient(std::move(impl)));
}

RemoteClient::RemoteClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RemoteClient::~RemoteClient() = default;

std::string RemoteClient::Describe() const { return impl_->options.url; }

namespace {

Status HttpError(const http::response<http::string_body>& res, std::string_view what) {
  auto code = res.result_int();
  std::string msg = std::string(what) + ": HTTP " + std::to_string(code) + " " +
                    std::string(SV(res.reason()));
  switch (code) {
    case 401: return Status(Code::kUnauthenticated, msg + " (check EVENTSTORE_USERNAME/PASSWORD)");
    case 403: return Status(Code::kPermissionDenied, msg);
    case 404: return Status::StreamNotFound(msg);
    case 410: return Status::StreamDeleted(msg);
    case 413: return Status::TooLarge(msg);
    default: break;
  }
  if (code >= 500) return Status::Unavailable(msg);
  return Status::InvalidArgument(msg + " " + res.body().substr(0, 200));
}

// Turns an entry of an embed=body feed into a ResolvedEvent.
std::optional<ResolvedEvent> EntryToEvent(const json& e) {
  if (!e.is_object()) return std::nullopt;
  ResolvedEvent r;
  r.stream = e.value("streamId", std::string());
  r.number = e.value("eventNumber", int64_t{0});
  r.type = e.value("eventType", std::string());
  auto id = Uuid::Parse(e.value("eventId", std::string()));
  if (id) r.id = *id;
  bool is_json = e.value("isJson", true);
  auto text_of = [&](const char* key) -> std::string {
    auto it = e.find(key);
    if (it == e.end() || it->is_null()) return {};
    if (it->is_string()) {
      const auto& s = it->get_ref<const std::string&>();
      if (is_json || std::string_view(key) == "metaData") return s;
      return json(s).dump();
    }
    return it->dump();
  };
  r.data = text_of("data");
  r.metadata = text_of("metaData");
  auto updated = e.value("updated", std::string());
  if (auto us = ParseRfc3339Micros(updated)) r.created_us = *us;
  return r;
}

std::optional<AllPosition> PositionFromLink(const json& feed, std::string_view relation) {
  auto links = feed.find("links");
  if (links == feed.end() || !links->is_array()) return std::nullopt;
  for (const auto& l : *links) {
    if (l.value("relation", std::string()) != relation) continue;
    std::string uri = l.value("uri", std::string());
    // .../streams/%24all/{32 hex}/forward/{n}
    auto end = uri.rfind('/');
    if (end == std::string::npos) continue;
    auto mid = uri.rfind('/', end - 1);
    if (mid == std::string::npos) continue;
    auto start = uri.rfind('/', mid - 1);
    if (start == std::string::npos) continue;
    return AllPosition::Parse(std::string_view(uri).substr(start + 1, mid - start - 1));
  }
  return std::nullopt;
}

int64_t VersionFromETag(const http::response<http::string_body>& res) {
  auto it = res.find(http::field::etag);
  if (it == res.end()) return -1;
  std::string_view tag = SV(it->value());
  if (!tag.empty() && tag.front() == 'W') tag.remove_prefix(std::min<size_t>(2, tag.size()));
  if (!tag.empty() && tag.front() == '"') tag.remove_prefix(1);
  auto semi = tag.find(';');
  if (semi == std::string_view::npos) return -1;
  return ParseInt(tag.substr(0, semi)).value_or(-1);
}

}  // namespace

Result<AppendResult> RemoteClient::Append(std::string_view stream, int64_t expected_version,
                                          std::vector<ProposedEvent> events) {
  if (events.empty()) return Status::InvalidArgument("empty append");
  std::string body = "[";
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (i) body += ',';
    body += "{\"eventId\":\"" + e.id.ToString() + "\",\"eventType\":" + json(e.type).dump() +
            ",\"data\":" + (e.data.empty() ? std::string("{}") : e.data);
    if (!e.metadata.empty()) body += ",\"metadata\":" + e.metadata;
    body += '}';
  }
  body += ']';
  auto res = impl_->Request(http::verb::post, "/streams/" + PercentEncode(stream),
                            std::move(body),
                            {{"Content-Type", kEventsContentType},
                             {"ES-ExpectedVersion", std::to_string(expected_version)}});
  if (!res.ok()) return res.status();
  auto code = res->result_int();
  if (code == 201) {
    auto loc = res->find(http::field::location);
    if (loc == res->end()) return Status::Internal("append answered 201 without Location");
    std::string_view l = SV(loc->value());
    auto first = ParseInt(l.substr(l.rfind('/') + 1));
    if (!first) return Status::Internal("append answered a Location without an event number");
    return AppendResult{*first, *first + static_cast<int64_t>(events.size()) - 1};
  }
  if (code == 400) {
    auto cv = res->find("ES-CurrentVersion");
    if (cv == res->end()) cv = res->find("Kurrent-CurrentVersion");
    if (cv != res->end() || SV(res->reason()).find("Wrong expected") != std::string_view::npos) {
      int64_t current = cv != res->end() ? ParseInt(SV(cv->value())).value_or(-1) : -1;
      return Status::WrongExpectedVersion(current, "wrong expected version on " +
                                                       std::string(stream));
    }
  }
  return HttpError(*res, "append to " + std::string(stream));
}

namespace {

Result<StreamPage> ParseStreamFeed(const http::response<http::string_body>& res, bool forward,
                                   size_t max_count) {
  json feed = json::parse(res.body(), nullptr, false);
  if (feed.is_discarded() || !feed.is_object()) {
    return Status::Unavailable("event store answered a feed that is not JSON");
  }
  StreamPage page;
  page.last_number = VersionFromETag(res);
  auto entries = feed.find("entries");
  if (entries != feed.end() && entries->is_array()) {
    for (const auto& e : *entries) {
      if (auto ev = EntryToEvent(e)) page.events.push_back(std::move(*ev));
    }
  }
  if (forward) std::reverse(page.events.begin(), page.events.end());
  page.end_of_stream = page.events.size() < max_count;
  if (!forward && !page.events.empty() && page.events.back().number == 0) {
    page.end_of_stream = true;
  }
  return page;
}

}  // namespace

Result<StreamPage> RemoteClient::ReadStreamForward(std::string_view stream, int64_t from,
                                                   size_t max_count) {
  auto res = impl_->Request(http::verb::get,
                            "/streams/" + PercentEncode(stream) + "/" +
                                std::to_string(from) + "/forward/" + std::to_string(max_count) +
                                "?embed=body",
                            {}, {{"Accept", kAtomAccept}});
  if (!res.ok()) return res.status();
  if (res->result_int() != 200) return HttpError(*res, "read " + std::string(stream));
  return ParseStreamFeed(*res, true, max_count);
}

Result<StreamPage> RemoteClient::ReadStreamBackward(std::string_view stream, int64_t from,
                                                    size_t max_count) {
  std::string start = from < 0 ? std::string("head") : std::to_string(from);
  auto res = impl_->Request(http::verb::get,
                            "/streams/" + PercentEncode(stream) + "/" + start +
                                "/backward/" + std::to_string(max_count) + "?embed=body",
                            {}, {{"Accept", kAtomAccept}});
  if (!res.ok()) return res.status();
  if (res->result_int() != 200) return HttpError(*res, "read " + std::string(stream));
  return ParseStreamFeed(*res, false, max_count);
}

Result<AllPage> RemoteClient::ReadAllForward(const AllPosition& from, size_t max_count,
                                             std::chrono::milliseconds long_poll) {
  std::vector<std::pair<std::string, std::string>> headers{{"Accept", kAtomAccept}};
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(long_poll).count();
  if (long_poll.count() > 0 && seconds == 0) seconds = 1;
  if (seconds > 0) headers.emplace_back("ES-LongPoll", std::to_string(seconds));
  auto res = impl_->Request(http::verb::get,
                            "/streams/%24all/" + from.ToString() + "/forward/" +
                                std::to_string(max_count) + "?embed=body",
                            {}, std::move(headers), std::chrono::seconds(seconds));
  if (!res.ok()) return res.status();
  if (res->result_int() != 200) return HttpError(*res, "read $all");
  json feed = json::parse(res->body(), nullptr, false);
  if (feed.is_discarded() || !feed.is_object()) {
    return Status::Unavailable("event store answered a $all feed that is not JSON");
  }
  AllPage page;
  size_t raw = 0;
  auto entries = feed.find("entries");
  if (entries != feed.end() && entries->is_array()) {
    raw = entries->size();
    for (const auto& e : *entries) {
      auto ev = EntryToEvent(e);
      if (!ev || ev->type.empty() || ev->type[0] == '$' ||
          (!ev->stream.empty() && ev->stream[0] == '$')) {
        continue;
      }
      page.events.push_back(std::move(*ev));
    }
  }
  std::reverse(page.events.begin(), page.events.end());
  page.next = from;
  if (raw > 0) {
    if (auto next = PositionFromLink(feed, "previous")) page.next = *next;
  }
  page.end_of_log = raw < max_count;
  return page;
}

Result<AllPosition> RemoteClient::ReadHead() {
  auto res = impl_->Request(http::verb::get, "/streams/%24all/head/backward/1", {},
                            {{"Accept", kAtomAccept}});
  if (!res.ok()) return res.status();
  if (res->result_int() != 200) return HttpError(*res, "read $all");
  json feed = json::parse(res->body(), nullptr, false);
  if (feed.is_discarded()) return Status::Unavailable("event store answered a feed that is not JSON");
  return PositionFromLink(feed, "previous").value_or(AllPosition::Start());
}

}  // namespace dt::client
