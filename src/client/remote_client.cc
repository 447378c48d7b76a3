#include "client/remote_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "client/async_http.h"
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

// One pooled keep-alive connection. Asio connects it (resolving, with a timeout); the
// exchanges then use the socket directly (FdStream): blocking send/recv with the socket's
// own timeouts, one system call per read or write instead of the reactor's epoll and timer
// calls around each.
struct Connection {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  int64_t timeout_ms = -1;  // what SO_RCVTIMEO / SO_SNDTIMEO are set to
};

// Beast's SyncReadStream / SyncWriteStream over a connected blocking socket whose
// SO_RCVTIMEO / SO_SNDTIMEO bound each call; `deadline` bounds the whole exchange.
class FdStream {
 public:
  FdStream(int fd, std::chrono::steady_clock::time_point deadline) : fd_(fd), deadline_(deadline) {}

  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      for (;;) {
        ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
        if (n > 0) return Done(static_cast<size_t>(n), ec);
        if (n == 0) {
          ec = net::error::eof;
          return 0;
        }
        if (errno == EINTR) continue;
        return Failed(ec);
      }
    }
    ec = {};
    return 0;
  }
  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    iovec iov[16];
    int count = 0;
    for (auto it = net::buffer_sequence_begin(buffers);
         it != net::buffer_sequence_end(buffers) && count < 16; ++it) {
      net::const_buffer b = *it;
      if (b.size() == 0) continue;
      iov[count].iov_base = const_cast<void*>(b.data());
      iov[count].iov_len = b.size();
      ++count;
    }
    if (count == 0) {
      ec = {};
      return 0;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    for (;;) {
      ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n >= 0) return Done(static_cast<size_t>(n), ec);
      if (errno == EINTR) continue;
      return Failed(ec);
    }
  }
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  size_t Done(size_t n, boost::system::error_code& ec) {
    if (std::chrono::steady_clock::now() > deadline_) {
      ec = beast::error::timeout;
      return 0;
    }
    ec = {};
    return n;
  }
  size_t Failed(boost::system::error_code& ec) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ec = beast::error::timeout;  // SO_RCVTIMEO / SO_SNDTIMEO ran out
    } else {
      ec = boost::system::error_code(errno, boost::system::system_category());
    }
    return 0;
  }

  int fd_;
  std::chrono::steady_clock::time_point deadline_;
};

// Sets both socket timeouts (a syscall each) unless they already are `ms`.
bool SetTimeouts(Connection& c, int64_t ms, boost::system::error_code& ec) {
  ms = std::max<int64_t>(ms, 1);  // 0 would mean "no timeout"
  if (c.timeout_ms == ms) return true;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  int fd = c.stream.socket().native_handle();
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    ec = boost::system::error_code(errno, boost::system::system_category());
    return false;
  }
  c.timeout_ms = ms;
  return true;
}

}  // namespace

struct RemoteClient::Impl {
  RemoteOptions options;
  std::string host;
  std::string port;
  std::string base;  // path prefix without trailing '/'
  std::string authorization;
  std::string request_head;  // an append's request line end and fixed headers
  std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;  // GUARDED_BY(mu)
  // AppendAsync's connections and I/O thread, made on first use; destroyed first (its
  // destructor fails what is in flight).
  std::once_flag async_once;
  std::unique_ptr<AsyncHttp> async;

  AsyncHttp& Async() {
    std::call_once(async_once, [this] {
      AsyncHttp::Options o;
      o.host = host;
      o.port = port;
      o.timeout = options.request_timeout;
      o.max_connections = std::max<size_t>(options.max_idle_connections, 1);
      o.describe = options.url;
      async = std::make_unique<AsyncHttp>(std::move(o));
    });
    return *async;
  }

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
    // From here on the socket is used directly (FdStream), in blocking mode.
    c->stream.socket().native_non_blocking(false, ec);
    if (ec) {
      return Status::Unavailable("cannot use the connection to " + options.url + ": " +
                                 ec.message());
    }
    return c;
  }

  // One exchange on one connection; false (and `ec`) when the connection broke or timed out.
  bool Exchange(Connection& c, http::request<http::string_body>& req,
                http::response_parser<http::string_body>& parser,
                std::chrono::milliseconds timeout, boost::system::error_code& ec) {
    if (!SetTimeouts(c, timeout.count(), ec)) return false;
    FdStream s(c.stream.socket().native_handle(), std::chrono::steady_clock::now() + timeout);
    http::write(s, req, ec);
    if (ec) return false;
    http::read(s, c.buffer, parser, ec);
    return !ec;
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
  std::string& head = impl->request_head;
  head = " HTTP/1.1\r\nHost: ";
  head += impl->host;
  head += ':';
  head += impl->port;
  head += "\r\nAuthorization: ";
  head += impl->authorization;
  head += "\r\nUser-Agent: dt-server\r\nContent-Type: ";
  head += kEventsContentType;
  head += "\r\n";
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

// A feed (embed=body) as the client uses it, read with simdjson's DOM parser (one parser per
// thread, reused: its buffers grow to the largest page once) instead of a nlohmann::json
// tree: a page of `$all` is parsed for every batch the projector applies.
struct Feed {
  std::vector<ResolvedEvent> events;  // as the entries come: newest first
  size_t raw_entries = 0;             // entries in the page, readable or not
  std::optional<AllPosition> previous;  // the "previous" link's $all position, when asked for
};

namespace dom = simdjson::dom;

std::string_view StringOr(dom::object o, std::string_view key, std::string_view fallback = {}) {
  std::string_view v;
  if (o[key].get_string().get(v) != simdjson::SUCCESS) return fallback;
  return v;
}

// The text of an entry's data or metaData: a string as it is (a non-JSON event's data as a
// JSON string of its text), anything else as its JSON text.
std::string TextOf(dom::object o, std::string_view key, bool as_is) {
  dom::element v;
  if (o[key].get(v) != simdjson::SUCCESS || v.is_null()) return {};
  std::string_view text;
  if (v.get_string().get(text) == simdjson::SUCCESS) {
    if (as_is) return std::string(text);
    return json(std::string(text)).dump();
  }
  // Not what EventStoreDB sends for embed=body: normalised as nlohmann writes it.
  return json::parse(simdjson::to_string(v), nullptr, false).dump();
}

// Turns an entry of an embed=body feed into a ResolvedEvent.
std::optional<ResolvedEvent> EntryToEvent(dom::element element) {
  dom::object e;
  if (element.get_object().get(e) != simdjson::SUCCESS) return std::nullopt;
  ResolvedEvent r;
  r.stream = std::string(StringOr(e, "streamId"));
  int64_t number = 0;
  if (e["eventNumber"].get_int64().get(number) == simdjson::SUCCESS) r.number = number;
  r.type = std::string(StringOr(e, "eventType"));
  if (auto id = Uuid::Parse(StringOr(e, "eventId"))) r.id = *id;
  bool is_json = true;
  if (e["isJson"].get_bool().get(is_json) != simdjson::SUCCESS) is_json = true;
  r.data = TextOf(e, "data", is_json);
  r.metadata = TextOf(e, "metaData", true);
  if (auto us = ParseRfc3339Micros(StringOr(e, "updated"))) r.created_us = *us;
  return r;
}

// .../streams/%24all/{32 hex}/forward/{n}: the position.
std::optional<AllPosition> PositionInUri(std::string_view uri) {
  auto end = uri.rfind('/');
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  auto mid = uri.rfind('/', end - 1);
  if (mid == std::string_view::npos || mid == 0) return std::nullopt;
  auto start = uri.rfind('/', mid - 1);
  if (start == std::string_view::npos) return std::nullopt;
  return AllPosition::Parse(uri.substr(start + 1, mid - start - 1));
}

Result<Feed> ParseFeed(const std::string& body, bool want_previous) {
  thread_local dom::parser parser;
  dom::object feed;
  if (parser.parse(body).get_object().get(feed) != simdjson::SUCCESS) {
    return Status::Unavailable("event store answered a feed that is not JSON");
  }
  Feed out;
  dom::array entries;
  if (feed["entries"].get_array().get(entries) == simdjson::SUCCESS) {
    out.raw_entries = entries.size();
    out.events.reserve(out.raw_entries);
    for (dom::element e : entries) {
      if (auto ev = EntryToEvent(e)) out.events.push_back(std::move(*ev));
    }
  }
  dom::array links;
  if (want_previous && feed["links"].get_array().get(links) == simdjson::SUCCESS) {
    for (dom::element l : links) {
      dom::object link;
      if (l.get_object().get(link) != simdjson::SUCCESS) continue;
      if (StringOr(link, "relation") != "previous") continue;
      if (auto p = PositionInUri(StringOr(link, "uri"))) {
        out.previous = p;
        break;
      }
    }
  }
  return out;
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

namespace {

// The JSON array of an append's events.
std::string AppendBody(const std::vector<ProposedEvent>& events) {
  std::string body = "[";
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (i) body += ',';
    body += "{\"eventId\":\"";
    body += e.id.ToString();
    body += "\",\"eventType\":";
    AppendJsonString(body, e.type);
    body += ",\"data\":";
    if (e.data.empty()) {
      body += "{}";
    } else {
      body += e.data;
    }
    if (!e.metadata.empty()) {
      body += ",\"metadata\":";
      body += e.metadata;
    }
    body += '}';
  }
  body += ']';
  return body;
}

// What an append's answer means.
Result<AppendResult> AppendOutcome(const http::response<http::string_body>& res,
                                   std::string_view stream, size_t count) {
  auto code = res.result_int();
  if (code == 201) {
    auto loc = res.find(http::field::location);
    if (loc == res.end()) return Status::Internal("append answered 201 without Location");
    std::string_view l = SV(loc->value());
    auto first = ParseInt(l.substr(l.rfind('/') + 1));
    if (!first) return Status::Internal("append answered a Location without an event number");
    return AppendResult{*first, *first + static_cast<int64_t>(count) - 1};
  }
  if (code == 400) {
    auto cv = res.find("ES-CurrentVersion");
    if (cv == res.end()) cv = res.find("Kurrent-CurrentVersion");
    if (cv != res.end() || SV(res.reason()).find("Wrong expected") != std::string_view::npos) {
      int64_t current = cv != res.end() ? ParseInt(SV(cv->value())).value_or(-1) : -1;
      return Status::WrongExpectedVersion(current, "wrong expected version on " +
                                                       std::string(stream));
    }
  }
  std::string what = "append to ";
  what += stream;
  return HttpError(res, what);
}

}  // namespace

void RemoteClient::StopAppends() { impl_->Async().Stop(); }

Result<AppendResult> RemoteClient::Append(std::string_view stream, int64_t expected_version,
                                          std::vector<ProposedEvent> events) {
  if (events.empty()) return Status::InvalidArgument("empty append");
  auto res = impl_->Request(http::verb::post, "/streams/" + PercentEncode(stream),
                            AppendBody(events),
                            {{"Content-Type", kEventsContentType},
                             {"ES-ExpectedVersion", std::to_string(expected_version)}});
  if (!res.ok()) return res.status();
  return AppendOutcome(*res, stream, events.size());
}

void RemoteClient::AppendAsync(std::string_view stream, int64_t expected_version,
                               std::vector<ProposedEvent> events, AppendCallback done) {
  if (events.empty()) return done(Status::InvalidArgument("empty append"));
  const Impl& i = *impl_;
  std::string body = AppendBody(events);
  // The request as sent, written out here (the I/O thread only sends it).
  std::string req;
  req.reserve(body.size() + i.request_head.size() + stream.size() * 3 + 160);
  req += "POST ";
  req += i.base;
  req += "/streams/";
  req += PercentEncode(stream);
  req += i.request_head;  // " HTTP/1.1", Host, Authorization, User-Agent, Content-Type
  req += "ES-ExpectedVersion: ";
  req += std::to_string(expected_version);
  req += "\r\nContent-Length: ";
  req += std::to_string(body.size());
  req += "\r\n\r\n";
  req += body;
  impl_->Async().Submit(
      std::move(req), [stream = std::string(stream), count = events.size(),
                       done = std::move(done)](Result<AsyncHttp::Response> res) {
        if (!res.ok()) return done(res.status());
        done(AppendOutcome(*res, stream, count));
      });
}

namespace {

Result<StreamPage> ParseStreamFeed(const http::response<http::string_body>& res, bool forward,
                                   size_t max_count) {
  DT_ASSIGN_OR_RETURN(Feed feed, ParseFeed(res.body(), false));
  StreamPage page;
  page.last_number = VersionFromETag(res);
  page.events = std::move(feed.events);
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
  DT_ASSIGN_OR_RETURN(Feed feed, ParseFeed(res->body(), true));
  AllPage page;
  const size_t raw = feed.raw_entries;
  page.events.reserve(feed.events.size());
  // Newest first in the feed: taken from the back for forward order.
  for (auto it = feed.events.rbegin(); it != feed.events.rend(); ++it) {
    if (it->type.empty() || it->type[0] == '$' || (!it->stream.empty() && it->stream[0] == '$')) {
      continue;
    }
    page.events.push_back(std::move(*it));
  }
  page.next = from;
  if (raw > 0 && feed.previous) page.next = *feed.previous;
  page.end_of_log = raw < max_count;
  return page;
}

Result<AllPosition> RemoteClient::ReadHead() {
  auto res = impl_->Request(http::verb::get, "/streams/%24all/head/backward/1", {},
                            {{"Accept", kAtomAccept}});
  if (!res.ok()) return res.status();
  if (res->result_int() != 200) return HttpError(*res, "read $all");
  DT_ASSIGN_OR_RETURN(Feed feed, ParseFeed(res->body(), true));
  return feed.previous.value_or(AllPosition::Start());
}

}  // namespace dt::client
