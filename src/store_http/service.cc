#include "store_http/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/basic_auth.h"
#include "http/url.h"
#include "store_http/append_request.h"
#include "store_http/atom.h"
#include "store_http/error_mapping.h"
#include "store_http/web_assets.h"

namespace dt::store_http {

using http::ErrorResponse;
using http::Exchange;
using http::HttpStatus;
using http::Reply;
using http::Response;
using http::Verb;
using nlohmann::json;

namespace {

constexpr size_t kMaxPage = 4096;
constexpr char kAtomJson[] = "application/vnd.eventstore.atom+json";
constexpr char kKurrentAtomJson[] = "application/vnd.kurrent.atom+json";
constexpr char kJson[] = "application/json";
constexpr char kStreamDesc[] = "application/vnd.eventstore.streamdesc+json";
constexpr char kKurrentStreamDesc[] = "application/vnd.kurrent.streamdesc+json";

constexpr char kEventJson[] = "application/vnd.eventstore.event+json";
constexpr char kKurrentEventJson[] = "application/vnd.kurrent.event+json";
constexpr char kRaw[] = "application/octet-stream";

// The response media type, picked the way EventStoreDB picks its codec: ?format=json,
// else the Accept entry of the highest q (the first on a tie) that the resource can be
// shown as (`*/*` and `application/*`: atom+json), else atom+json when there is no
// Accept. A single event can also be shown as its data alone (application/json, or raw
// bytes as application/octet-stream) or as an event (vnd.eventstore.event+json).
// nullopt: nothing acceptable, answer 406 (we have no XML).
std::optional<std::string> Negotiate(const Exchange& ex, bool single_event = false) {
  if (auto f = ex.Query("format"); f && (*f == "json" || *f == "atom+json")) {
    return std::string(*f == "json" ? kJson : kAtomJson);
  }
  std::string_view accept = ex.Header("Accept");
  if (accept.empty()) return std::string(kAtomJson);
  std::optional<std::string> best;
  double best_q = 0;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    std::string_view type = item.substr(0, item.find(';'));
    double q = 1;
    if (size_t at = item.find("q="); at != std::string_view::npos && item.find(';') < at) {
      std::string qs(item.substr(at + 2, 5));
      char* end = nullptr;
      q = std::strtod(qs.c_str(), &end);
      if (end == qs.c_str()) q = 1;
    }
    std::string t;
    for (char c : type) {
      if (c != ' ' && c != '\t') t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    std::optional<std::string> media;
    if (t == kAtomJson || t == kKurrentAtomJson || t == kJson) {
      media = t;
    } else if (t == "*/*" || t == "application/*") {
      media = kAtomJson;
    } else if (single_event && (t == kEventJson || t == kKurrentEventJson || t == kRaw)) {
      media = t;
    }
    if (media && q > 0 && (!best || q > best_q)) {
      best = std::move(media);
      best_q = q;
    }
  }
  return best;
}

// The same request on the stream's metadata stream ("$$" + stream).
Exchange OnMetastream(Exchange ex) {
  for (auto& [name, value] : ex.params) {
    if (name == "stream") value.insert(0, "$$");
  }
  return ex;
}

Response NotAcceptable() {
  return ErrorResponse(HttpStatus::not_acceptable,
                       "Not Acceptable: use application/vnd.eventstore.atom+json or application/json");
}

Response JsonWithType(HttpStatus status, const json& body, const std::string& media) {
  return http::MakeResponse(status, DumpJson(body), media + "; charset=utf-8");
}

// ETag "{version};{hash of the media type}", as EventStoreDB forms it.
std::string ETagFor(int64_t version, const std::string& media) {
  uint32_t h = 2166136261u;
  for (char c : media) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return fmt::format("{};{}", version, static_cast<int32_t>(h & 0x7fffffff));
}

bool MatchesIfNoneMatch(const Exchange& ex, const std::string& etag) {
  std::string_view inm = ex.Header("If-None-Match");
  return !inm.empty() && inm.find("\"" + etag + "\"") != std::string_view::npos;
}

void SetCaching(Response& r, const std::string& etag, bool immutable) {
  r.set(http::bhttp::field::cache_control,
        immutable ? "max-age=31536000, public" : "max-age=0, no-cache, must-revalidate");
  r.set(http::bhttp::field::vary, "Accept");
  if (!etag.empty()) r.set(http::bhttp::field::etag, "\"" + etag + "\"");
}

std::optional<int64_t> ParseNonNegative(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v < 0) return std::nullopt;
  return v;
}

// The completion of an append: 201 with the Location of the first event, or the error.
// The engine calls it on its writer thread, which must get back to the next group
// commit at once, so the response is built on the I/O executor (inline in tests that
// have none).
store::Store::AppendCallback AppendDone(boost::asio::any_io_executor executor, Reply reply,
                                        std::string location_prefix) {
  return [executor, reply = std::move(reply),
          prefix = std::move(location_prefix)](Result<store::AppendResult> r) {
    auto answer = [reply, prefix, r = std::move(r)] {
      if (!r.ok()) return reply(ErrorToResponse(r.status()));
      Response res = http::MakeResponse(HttpStatus::created, {}, "text/plain; charset=utf-8");
      res.set(http::bhttp::field::location, fmt::format("{}/{}", prefix, r->first_number));
      reply(std::move(res));
    };
    if (executor) {
      boost::asio::post(executor, std::move(answer));
    } else {
      answer();
    }
  };
}

// GET/POST/DELETE of a stream URL with a trailing slash: EventStoreDB answers 307 to the
// same URL without it, so clients that build URLs by joining with '/' keep working.
Response RedirectWithoutSlash(const Exchange& ex, std::string_view fallback_host) {
  std::string path = ex.path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string location = BaseUrl(ex, fallback_host) + path;
  if (!ex.query.empty()) location += "?" + ex.query;
  Response r = http::MakeResponse(HttpStatus::temporary_redirect, "Moved Permanently", "text/plain; charset=utf-8");
  r.set(http::bhttp::field::location, location);
  r.set(http::bhttp::field::cache_control, "max-age=31536000, public");
  return r;
}

// Cache-Control of a page or event that can still change: max-age from the stream's
// $cacheControl metadata (seconds), as EventStoreDB sets it; nullopt when it has none.
std::optional<int64_t> CacheSeconds(store::Store& store, std::string_view stream) {
  auto m = store.GetMetadata(stream);
  if (!m.ok() || m->json.empty()) return std::nullopt;
  json j = json::parse(m->json, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("$cacheControl");
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) return std::nullopt;
  return it->get<int64_t>();
}

void SetCacheSeconds(Response& r, std::optional<int64_t> seconds) {
  if (seconds) r.set(http::bhttp::field::cache_control, fmt::format("max-age={}, public", *seconds));
}

Response NotModified() {
  Response r = http::MakeResponse(HttpStatus::not_modified, {}, {});
  return r;
}

}  // namespace

// A page read that may long-poll: kept alive across waits.
struct EventStoreService::ReadRequest {
  Exchange ex;
  Reply reply{[](Response) {}};  // replaced by the request's Reply
  bool all = false;  // $all, else a stream
  std::string stream;
  std::string media;
  std::string base;
  Embed embed = Embed::kNone;
  store::Direction direction = store::Direction::kForward;
  bool from_head = false;
  int64_t from_number = 0;
  store::Position from_position = 0;
  size_t count = 20;
  std::chrono::steady_clock::time_point poll_deadline{};  // zero: no long poll
};

namespace {
// What EventStoreDB allows (its own CORS answers): the ES- and the newer Kurrent- headers.
constexpr const char* kCorsAllowMethods = "POST, DELETE, GET, OPTIONS";
constexpr const char* kCorsAllowHeaders =
    "Content-Type, X-Requested-With, X-Forwarded-Host, X-Forwarded-Prefix, X-PINGOTHER, "
    "Authorization, ES-LongPoll, ES-ExpectedVersion, ES-EventId, ES-EventType, ES-RequireMaster, "
    "ES-RequireLeader, ES-HardDelete, ES-ResolveLinkTos, Kurrent-LongPoll, Kurrent-ExpectedVersion, "
    "Kurrent-EventId, Kurrent-EventType, Kurrent-RequireLeader, Kurrent-HardDelete, Kurrent-ResolveLinkTos";
}  // namespace

std::vector<std::pair<std::string, std::string>> EventStoreService::CorsHeaders() {
  return {
      {"Access-Control-Allow-Origin", "*"},
      {"Access-Control-Expose-Headers",
       "Location, ES-Position, ES-CurrentVersion, Kurrent-Position, Kurrent-CurrentVersion"},
  };
}

EventStoreService::EventStoreService(store::Store& store, ServiceOptions options,
                                     http::Registry& metrics)
    : store_(store),
      options_(std::move(options)),
      metrics_(metrics),
      waiters_(store),
      instance_id_(Uuid::Random().ToString()),
      fallback_host_(fmt::format("{}:{}", options_.listen_address, options_.port)),
      admin_authorization_("Basic " + http::Base64Encode(options_.admin_user + ":" + options_.admin_password)),
      started_(std::chrono::system_clock::now()) {
  metrics_.AddCollector([this](std::string& out) {
    store::Stats s = store_.GetStats();
    auto counter = [&](const char* name, const char* help, double v) {
      http::AppendHeader(out, name, help, "counter");
      http::AppendSample(out, name, {}, v);
    };
    auto gauge = [&](const char* name, const char* help, double v) {
      http::AppendHeader(out, name, help, "gauge");
      http::AppendSample(out, name, {}, v);
    };
    counter("eventstore_appends_total", "Acknowledged append requests", double(s.appends));
    counter("eventstore_events_written_total", "Events written", double(s.events_written));
    counter("eventstore_bytes_written_total", "Bytes written to the log", double(s.bytes_written));
    counter("eventstore_fsyncs_total", "fdatasync calls of the log", double(s.fsyncs));
    gauge("eventstore_events_per_fsync", "Average events made durable by one fdatasync",
          s.fsyncs ? double(s.events_written) / double(s.fsyncs) : 0.0);
    counter("eventstore_reads_total", "Read requests served by the engine", double(s.reads));
    gauge("eventstore_streams", "Streams known to the index", double(s.streams));
    gauge("eventstore_head_position", "End of the acknowledged log (bytes)", double(s.head_position));
    gauge("eventstore_writer_failed", "1 once the writer stopped after an I/O error", s.failure.empty() ? 0 : 1);
    const auto& bounds_us = store::Store::FsyncBucketBounds();
    std::vector<double> bounds;
    for (uint64_t b : bounds_us) bounds.push_back(double(b) / 1e6);
    std::vector<uint64_t> counts = s.fsync_buckets;
    counts.resize(bounds.size() + 1, 0);
    http::AppendHeader(out, "eventstore_fsync_duration_seconds", "Latency of fdatasync of the log", "histogram");
    http::AppendHistogram(out, "eventstore_fsync_duration_seconds", {}, bounds, counts,
                          double(s.fsync_total_us) / 1e6);
  });
}

EventStoreService::~EventStoreService() { Shutdown(); }

void EventStoreService::Shutdown() { waiters_.Shutdown(); }

std::vector<http::Route> EventStoreService::Routes() {
  auto h = [this](Response (EventStoreService::*fn)(const Exchange&)) {
    return http::Handler([this, fn](const Exchange& ex) { return (this->*fn)(ex); });
  };
  auto hc = [this](Response (EventStoreService::*fn)(const Exchange&) const) {
    return http::Handler([this, fn](const Exchange& ex) { return (this->*fn)(ex); });
  };
  auto a = [this](void (EventStoreService::*fn)(Exchange, Reply)) {
    return http::AsyncHandler([this, fn](Exchange ex, Reply r) { (this->*fn)(std::move(ex), std::move(r)); });
  };
  auto slash = http::Handler([this](const Exchange& ex) { return RedirectWithoutSlash(ex, fallback_host_); });
  using http::Run;
  return {
      // Operations.
      {Verb::get, "/health/live", hc(&EventStoreService::HealthLive)},
      {Verb::head, "/health/live", hc(&EventStoreService::HealthLive)},
      {Verb::get, "/info", hc(&EventStoreService::Info)},
      {Verb::get, "/ping", http::Handler([](const Exchange&) {
         return http::JsonResponse(HttpStatus::ok,
                                   R"({"msg":"PongMessage","text":"Ping request successfully handled"})");
       })},
      {Verb::get, "/gossip", hc(&EventStoreService::Gossip)},
      {Verb::get, "/stats", hc(&EventStoreService::Stats)},
      {Verb::get, "/metrics", hc(&EventStoreService::Metrics)},
      // Streams. More specific patterns first: the first match wins.
      {Verb::get, "/streams/{stream}/", slash},
      {Verb::post, "/streams/{stream}/", slash},
      {Verb::delete_, "/streams/{stream}/", slash},
      {Verb::get, "/streams/{stream}/metadata/", slash},
      {Verb::post, "/streams/{stream}/metadata/", slash},
      {Verb::post, "/streams/{stream}", a(&EventStoreService::Append)},
      {Verb::post, "/streams/{stream}/incoming/{id}", a(&EventStoreService::Append)},
      {Verb::delete_, "/streams/{stream}", h(&EventStoreService::Delete), Run::kBlocking},
      {Verb::get, "/streams/{stream}", h(&EventStoreService::ReadHead), Run::kBlocking},
      {Verb::get, "/streams/{stream}/metadata", h(&EventStoreService::ReadMetadata), Run::kBlocking},
      {Verb::post, "/streams/{stream}/metadata", a(&EventStoreService::AppendMetadata)},
      // A stream's metadata stream ($$stream) by its event number or page, as EventStoreDB
      // routes them under /metadata (the answers are those of /streams/$$stream/...).
      {Verb::get, "/streams/{stream}/metadata/{event}",
       http::Handler([this](const Exchange& ex) { return ReadOne(OnMetastream(ex)); }),
       Run::kBlocking},
      {Verb::get, "/streams/{stream}/metadata/{from}/{direction}/{count}",
       http::AsyncHandler([this](Exchange ex, Reply r) { ReadPage(OnMetastream(ex), std::move(r)); }),
       Run::kBlocking},
      {Verb::get, "/streams/{stream}/metadata/{from}/{direction}",
       http::AsyncHandler([this](Exchange ex, Reply r) { ReadPage(OnMetastream(ex), std::move(r)); }),
       Run::kBlocking},
      {Verb::get, "/streams/{stream}/{event}", h(&EventStoreService::ReadOne), Run::kBlocking},
      {Verb::get, "/streams/{stream}/{from}/{direction}/{count}", a(&EventStoreService::ReadPage), Run::kBlocking},
      {Verb::get, "/streams/{stream}/{from}/{direction}", a(&EventStoreService::ReadPage), Run::kBlocking},
      // Web UI.
      {Verb::get, "/", hc(&EventStoreService::WebAsset)},
      {Verb::get, "/web/api/streams", h(&EventStoreService::ListStreams), Run::kBlocking},
      {Verb::get, "/web/{path*}", hc(&EventStoreService::WebAsset)},
      // CORS pre-flight for browser clients.
      {Verb::options, "/streams/{path*}", http::Handler([](const Exchange&) {
         http::Response res = http::MakeResponse(HttpStatus::ok, {}, {});
         res.set("Access-Control-Allow-Methods", kCorsAllowMethods);
         res.set("Access-Control-Allow-Headers", kCorsAllowHeaders);
         return res;
       })},
  };
}

std::optional<Response> EventStoreService::Authorize(const Exchange& ex) const {
  if (options_.insecure) return std::nullopt;
  std::string_view header = ex.Header("Authorization");
  // What clients send for the admin account, byte for byte: no decoding needed.
  if (http::ConstantTimeEquals(header, admin_authorization_)) return std::nullopt;
  auto creds = http::ParseBasicAuth(header);
  // Every account is the admin account here, so "admin only" ($all, metadata) and
  // "authenticated" are the same check.
  if (creds && creds->user == options_.admin_user &&
      http::ConstantTimeEquals(creds->password, options_.admin_password)) {
    return std::nullopt;
  }
  Response r = http::Unauthorized("ESDB", creds ? "Invalid username or password" : "Unauthorized");
  // Browsers show a login dialog for "Basic"; the web UI asks for none.
  if (ex.Header("X-Requested-With") == "XMLHttpRequest") {
    r.set(http::bhttp::field::www_authenticate, "X-Basic realm=\"ESDB\"");
  }
  return r;
}

// ---------------------------------------------------------------------------- writes

void EventStoreService::Append(Exchange ex, Reply reply) {
  if (auto deny = Authorize(ex)) return reply(std::move(*deny));
  std::string stream(ex.Param("stream"));
  std::optional<Uuid> id;
  if (!ex.Param("id").empty()) {
    id = Uuid::Parse(ex.Param("id"));
    if (!id || id->IsNil()) return reply(ErrorResponse(HttpStatus::bad_request, "Event id in the URL is not a UUID"));
  }
  std::string base = BaseUrl(ex, fallback_host_);
  auto parsed = ParseAppendRequest(ex, stream, id, options_.max_event_bytes, base);
  if (auto* r = std::get_if<Response>(&parsed)) return reply(std::move(*r));
  auto& req = std::get<AppendRequest>(parsed);
  store_.AppendAsync(std::move(stream), req.expected_version, std::move(req.events),
                     AppendDone(ex.executor, std::move(reply), StreamUrl(base, ex.Param("stream"))));
}

void EventStoreService::AppendMetadata(Exchange ex, Reply reply) {
  if (auto deny = Authorize(ex)) return reply(std::move(*deny));
  std::string stream(ex.Param("stream"));
  if (stream.starts_with("$$")) {
    return reply(ErrorResponse(HttpStatus::bad_request, "A metadata stream has no metadata"));
  }
  std::string meta_stream = "$$" + stream;
  std::string base = BaseUrl(ex, fallback_host_);
  // The metadata event may come without an id: we make one (a repeated metadata write
  // only leaves the same metadata in force).
  std::optional<Uuid> id;
  if (!EsHeader(ex, "EventId")) id = Uuid::Random();
  if (auto t = EsHeader(ex, "EventType"); !t) {
    ex.request.set("ES-EventType", "$metadata");
  } else if (*t != "$metadata") {
    return reply(ErrorResponse(HttpStatus::bad_request,
                               "Bad Request. You should not include an event type for metadata."));
  }
  auto parsed = ParseAppendRequest(ex, meta_stream, id, options_.max_event_bytes, base);
  if (auto* r = std::get_if<Response>(&parsed)) return reply(std::move(*r));
  auto& req = std::get<AppendRequest>(parsed);
  if (req.events.size() != 1) {
    return reply(ErrorResponse(HttpStatus::bad_request, "Write exactly one metadata event"));
  }
  auto& e = req.events.front();
  json obj = json::parse(e.data, nullptr, false);
  if (!e.is_json || obj.is_discarded() || !obj.is_object()) {
    return reply(ErrorResponse(HttpStatus::bad_request, "Stream metadata must be a JSON object"));
  }
  e.type = "$metadata";
  std::string location_prefix = StreamUrl(base, meta_stream);
  store_.AppendAsync(std::move(meta_stream), req.expected_version, std::move(req.events),
                     AppendDone(ex.executor, std::move(reply), std::move(location_prefix)));
}

Response EventStoreService::Delete(const Exchange& ex) {
  if (auto deny = Authorize(ex)) return std::move(*deny);
  std::string stream(ex.Param("stream"));
  if (stream == "$all") return ErrorResponse(HttpStatus::bad_request, "Cannot delete $all");
  if (auto bad = CheckFlagHeaders(ex)) return std::move(*bad);
  auto ev = ParseExpectedVersion(ex);
  if (!ev.ok()) return ErrorToResponse(ev.status());
  bool hard = false;
  if (auto h = EsHeader(ex, "HardDelete")) {
    std::string v;
    for (char c : *h) v.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (v != "true" && v != "false") {
      return ErrorResponse(HttpStatus::bad_request, "ES-HardDelete header in wrong format: use true or false");
    }
    hard = v == "true";
  }
  auto r = store_.Delete(stream, *ev, hard);
  if (!r.ok()) return ErrorToResponse(r.status());
  Response res = http::MakeResponse(HttpStatus::no_content, {}, {});
  res.reason("Stream deleted");
  return res;
}

// ---------------------------------------------------------------------------- reads

Response EventStoreService::ReadHead(const Exchange& ex) {
  // Accept: ...streamdesc+json asks for the stream's description document (what can be
  // done with it and in which media types), as EventStoreDB answers it.
  std::string accept(ex.Header("Accept"));
  for (char& c : accept) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* desc : {kStreamDesc, kKurrentStreamDesc}) {
    if (accept.find(desc) == std::string::npos) continue;
    if (auto deny = Authorize(ex)) return std::move(*deny);
    const std::string stream(ex.Param("stream"));
    const std::string href = fmt::format("/streams/{}", http::PercentEncode(stream));
    json doc = {
        {"title", fmt::format("Description document for '{}'", stream)},
        {"description", "The stream's links and the media types each of them is served in"},
        {"_links",
         {{"self", {{"href", href}, {"supportedContentTypes", json::array({desc})}}},
          {"stream",
           {{"href", href},
            {"supportedContentTypes", json::array({kAtomJson, kKurrentAtomJson, kJson})}}}}}};
    Response r = JsonWithType(HttpStatus::ok, doc, desc);
    r.reason("Description Document");
    return r;
  }
  // GET /streams/{stream} = the newest page: head, backward, 20.
  // A backward read never waits, so the Reply is called before ReadPage returns.
  Exchange page = ex;
  page.params.emplace_back("from", "head");
  page.params.emplace_back("direction", "backward");
  page.params.emplace_back("count", "20");
  std::optional<Response> out;
  ReadPage(std::move(page), Reply([&out](Response res) { out = std::move(res); }));
  return out ? std::move(*out) : ErrorResponse(HttpStatus::internal_server_error, "No response");
}

void EventStoreService::ReadPage(Exchange ex, Reply reply) {
  auto r = std::make_shared<ReadRequest>();
  std::string stream(ex.Param("stream"));
  r->all = stream == "$all";
  // $all needs the admin account; with one account that is any authenticated user.
  if (auto deny = Authorize(ex)) return reply(std::move(*deny));
  if (auto bad = CheckFlagHeaders(ex)) return reply(std::move(*bad));
  std::string_view dir = ex.Param("direction");
  std::string_view count = ex.Param("count");
  if (dir == "forward") {
    r->direction = store::Direction::kForward;
  } else if (dir == "backward") {
    r->direction = store::Direction::kBackward;
  } else if (count.empty() && !dir.empty() && dir.find_first_not_of("0123456789") == std::string_view::npos) {
    // /streams/{stream}/{event}/{count}: EventStoreDB reads that backward.
    r->direction = store::Direction::kBackward;
    count = dir;
  } else {
    return reply(ErrorResponse(HttpStatus::not_found, "Not Found"));
  }
  if (count.empty()) count = "20";
  auto n = ParseNonNegative(count);
  if (!n || *n == 0 || *n > static_cast<int64_t>(kMaxPage)) {
    return reply(ErrorResponse(HttpStatus::bad_request,
                               fmt::format("Invalid count '{}': use 1 to {}", std::string(count.substr(0, 30)), kMaxPage)));
  }
  r->count = static_cast<size_t>(*n);
  std::string_view from = ex.Param("from");
  if (from == "head") {
    if (r->direction == store::Direction::kForward && !r->all) {
      return reply(ErrorResponse(HttpStatus::bad_request, "Cannot read forward from head: use an event number"));
    }
    r->from_head = true;
  } else if (r->all) {
    auto p = ParseAllPosition(from);
    if (!p) {
      return reply(ErrorResponse(HttpStatus::bad_request,
                                 "Invalid $all position: use 32 hex digits (commit + prepare) or head"));
    }
    r->from_position = *p;
  } else {
    auto v = ParseNonNegative(from);
    if (!v) {
      return reply(ErrorResponse(HttpStatus::bad_request,
                                 fmt::format("Invalid event number '{}': use a number >= 0 or head",
                                             std::string(from.substr(0, 30)))));
    }
    r->from_number = *v;
  }
  // Only forward reads wait (EventStoreDB ignores the header on backward ones).
  auto lp = r->direction == store::Direction::kForward ? EsHeader(ex, "LongPoll") : std::nullopt;
  if (lp) {
    auto secs = ParseNonNegative(*lp);  // EventStoreDB: a whole number of seconds > 0
    if (!secs || *secs == 0) {
      return reply(ErrorResponse(HttpStatus::bad_request, "ES-LongPoll header in wrong format: use seconds > 0"));
    }
    auto wait = std::min<std::chrono::seconds>(std::chrono::seconds(*secs), options_.max_long_poll);
    if (wait.count() > 0) r->poll_deadline = std::chrono::steady_clock::now() + wait;
  }
  r->stream = std::move(stream);
  auto media = Negotiate(ex);
  if (!media) return reply(NotAcceptable());
  r->media = std::move(*media);
  r->embed = ParseEmbed(ex.Query("embed"));
  r->base = BaseUrl(ex, fallback_host_);
  r->ex = std::move(ex);
  r->reply = std::move(reply);
  RunRead(std::move(r));
}

void EventStoreService::RunRead(std::shared_ptr<ReadRequest> r) {
  const store::Position head_before = store_.HeadPosition();
  auto now = std::chrono::steady_clock::now();
  bool may_wait = r->poll_deadline > now && r->ex.executor;
  auto wait_then_retry = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(r->poll_deadline - now);
    waiters_.Wait(head_before, left, r->ex.executor, [this, r](bool committed) {
      if (!committed) r->poll_deadline = {};  // time is up: answer with what there is
      RunRead(r);
    });
  };

  if (r->all) {
    store::Position from = r->from_head ? head_before : r->from_position;
    auto slice = store_.ReadAll(from, r->count, r->direction);
    if (!slice.ok()) return r->reply(ErrorToResponse(slice.status()));
    if (slice->events.empty() && may_wait) return wait_then_retry();
    bool head = r->direction == store::Direction::kBackward ? r->from_head : slice->end_of_log;
    std::string etag = head ? ETagFor(static_cast<int64_t>(head_before), r->media) : "";
    if (!etag.empty() && MatchesIfNoneMatch(r->ex, etag)) return r->reply(NotModified());
    AllFeedArgs args{r->base, &*slice, from, r->count, r->direction, head, r->embed};
    Response res = http::MakeResponse(HttpStatus::ok, AllFeedText(args), r->media + "; charset=utf-8");
    SetCaching(res, etag, !head);
    return r->reply(std::move(res));
  }

  int64_t from = r->from_head ? -1 : r->from_number;
  auto slice = store_.ReadStream(r->stream, from, r->count, r->direction);
  if (!slice.ok()) {
    if (slice.status().Is(Code::kStreamNotFound) && may_wait) return wait_then_retry();
    return r->reply(ErrorToResponse(slice.status()));
  }
  if (slice->events.empty() && may_wait) return wait_then_retry();
  const int64_t last = slice->last_number;
  int64_t resolved_from = r->from_head ? last : r->from_number;
  bool head_of_stream;
  bool immutable;
  if (r->direction == store::Direction::kBackward) {
    // EventStoreDB: the head of the stream is a read from "head" only; a page below the
    // last event never changes (a page starting past it still may).
    head_of_stream = r->from_head;
    immutable = !r->from_head && last >= r->from_number;
  } else {
    head_of_stream = slice->end_of_stream;
    immutable = last + 1 >= r->from_number + static_cast<int64_t>(r->count);
  }
  std::string etag = immutable ? "" : ETagFor(last, r->media);
  if (!etag.empty() && MatchesIfNoneMatch(r->ex, etag)) return r->reply(NotModified());
  StreamFeedArgs args;
  args.base = r->base;
  args.stream = r->stream;
  args.slice = &*slice;
  args.from = resolved_from;
  args.count = r->count;
  args.direction = r->direction;
  args.head_of_stream = head_of_stream;
  // The feed's eTag (and selfUrl) belong to backward pages from the head only.
  args.etag = head_of_stream && r->direction == store::Direction::kBackward ? ETagFor(last, r->media) : "";
  args.embed = r->embed;
  Response res = http::MakeResponse(HttpStatus::ok, StreamFeedText(args), r->media + "; charset=utf-8");
  SetCaching(res, etag, immutable);
  if (!immutable) SetCacheSeconds(res, CacheSeconds(store_, r->stream));
  r->reply(std::move(res));
}

Response EventStoreService::ReadOne(const Exchange& ex) {
  if (auto deny = Authorize(ex)) return std::move(*deny);
  if (auto bad = CheckFlagHeaders(ex)) return std::move(*bad);
  std::string stream(ex.Param("stream"));
  std::string_view ev = ex.Param("event");
  int64_t number = -1;
  if (ev != "head") {
    auto v = ParseNonNegative(ev);
    if (!v) {
      return ErrorResponse(HttpStatus::bad_request,
                           fmt::format("Invalid event number '{}': use a number >= 0 or head",
                                       std::string(ev.substr(0, 30))));
    }
    number = *v;
  }
  if (stream == "$all") return ErrorResponse(HttpStatus::bad_request, "Read $all with /streams/$all/{position}/forward/{count}");
  auto negotiated = Negotiate(ex, /*single_event=*/true);
  if (!negotiated) return NotAcceptable();
  const std::string& media = *negotiated;
  auto e = store_.ReadEvent(stream, number);
  if (!e.ok()) return ErrorToResponse(e.status());
  Response res;
  if (media == kJson) {
    // The data alone; text that is not JSON as a JSON string, as EventStoreDB does.
    std::string body = e->is_json && !e->data.empty() ? e->data : DumpJson(json(e->data));
    res = http::MakeResponse(HttpStatus::ok, std::move(body), "application/json; charset=utf-8");
  } else if (media == kRaw) {
    res = http::MakeResponse(HttpStatus::ok, e->data, kRaw);
  } else if (media == kEventJson || media == kKurrentEventJson) {
    res = JsonWithType(HttpStatus::ok, EntryContent(*e), media);
  } else {
    std::string base = BaseUrl(ex, fallback_host_);
    res = JsonWithType(HttpStatus::ok, Entry(*e, base, ParseEmbed(ex.Query("embed")), /*single=*/true), media);
  }
  std::string etag = number < 0 ? ETagFor(e->number, media) : "";
  if (!etag.empty() && MatchesIfNoneMatch(ex, etag)) return NotModified();
  SetCaching(res, etag, number >= 0);
  if (number < 0) SetCacheSeconds(res, CacheSeconds(store_, stream));
  return res;
}

Response EventStoreService::ReadMetadata(const Exchange& ex) {
  if (auto deny = Authorize(ex)) return std::move(*deny);
  std::string stream(ex.Param("stream"));
  auto negotiated = Negotiate(ex);
  if (!negotiated) return NotAcceptable();
  const std::string& media = *negotiated;
  if (media == kJson) {
    auto m = store_.GetMetadata(stream);
    if (!m.ok()) return ErrorToResponse(m.status());
    return http::JsonResponse(HttpStatus::ok, m->json.empty() ? "{}" : m->json);
  }
  auto e = store_.ReadEvent("$$" + stream, -1);
  if (!e.ok()) {
    if (e.status().Is(Code::kStreamNotFound) || e.status().Is(Code::kNotFound)) {
      return JsonWithType(HttpStatus::ok, json::object(), media);
    }
    return ErrorToResponse(e.status());
  }
  std::string base = BaseUrl(ex, fallback_host_);
  return JsonWithType(HttpStatus::ok, Entry(*e, base, Embed::kContent), media);
}

int64_t EventStoreService::ReadableCount(const store::StreamInfo& s) {
  if (s.soft_deleted || s.tombstoned || s.last_number < 0) return 0;
  if (s.metadata_json.empty()) return s.last_number + 1;
  auto m = store_.GetMetadata(s.stream);
  if (!m.ok()) return s.last_number + 1;
  int64_t lo = 0;
  if (m->truncate_before) lo = std::max(lo, *m->truncate_before);
  if (m->max_count && *m->max_count <= s.last_number) {
    lo = std::max(lo, s.last_number + 1 - *m->max_count);
  }
  if (lo > s.last_number) return 0;
  if (m->max_age_seconds) {
    // A stream's events are in time order, so the readable ones are the newest: find the
    // first one (ReadEvent applies $maxAge) in a few reads rather than reading them all.
    auto readable = [&](int64_t n) { return store_.ReadEvent(s.stream, n).ok(); };
    if (!readable(s.last_number)) return 0;
    int64_t hi = s.last_number;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (readable(mid)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
  }
  return s.last_number - lo + 1;
}

Response EventStoreService::ListStreams(const Exchange& ex) {
  if (auto deny = Authorize(ex)) return std::move(*deny);
  std::string search = ex.Query("search").value_or("");
  auto offset = ParseNonNegative(ex.Query("offset").value_or("0"));
  auto limit = ParseNonNegative(ex.Query("limit").value_or("50"));
  if (!offset || !limit || *limit == 0 || *limit > 1000) {
    return ErrorResponse(HttpStatus::bad_request, "offset must be >= 0 and limit 1 to 1000");
  }
  bool system = ex.Query("system") == "true";
  auto list = store_.ListStreams(search, static_cast<size_t>(*offset), static_cast<size_t>(*limit) + 1, system);
  if (!list.ok()) return ErrorToResponse(list.status());
  json out = json::object();
  json arr = json::array();
  bool more = list->size() > static_cast<size_t>(*limit);
  if (more) list->pop_back();
  for (const auto& s : *list) {
    arr.push_back(json{{"streamId", s.stream},
                       {"lastEventNumber", s.last_number},
                       {"eventCount", ReadableCount(s)},
                       {"lastWritten", FormatTime(s.last_written_us)},
                       {"deleted", s.soft_deleted || s.tombstoned}});
  }
  out["streams"] = std::move(arr);
  out["hasMore"] = more;
  return http::JsonResponse(HttpStatus::ok, DumpJson(out));
}

// ---------------------------------------------------------------------------- operations

Response EventStoreService::HealthLive(const Exchange& ex) const {
  // The guide promises 200; ?liveCode= picks another, as KurrentDB allows.
  unsigned code = 200;
  if (auto c = ex.Query("liveCode")) {
    auto v = ParseNonNegative(*c);
    if (!v || *v < 200 || *v > 599) return ErrorResponse(HttpStatus::bad_request, "liveCode must be an HTTP status code");
    code = static_cast<unsigned>(*v);
  }
  Response r{static_cast<HttpStatus>(code), 11};
  r.set(http::bhttp::field::cache_control, "no-cache");
  r.prepare_payload();
  return r;
}

Response EventStoreService::Info(const Exchange&) const {
  json j = {{"dbVersion", options_.version},
            {"esVersion", options_.version},
            {"state", "leader"},
            {"features", {{"projections", false}, {"userManagement", false}, {"atomPub", true}}},
            {"authentication",
             {{"type", options_.insecure ? "insecure" : "internal"}, {"properties", json::object()}}}};
  return http::JsonResponse(HttpStatus::ok, DumpJson(j));
}

Response EventStoreService::Gossip(const Exchange&) const {
  auto head = static_cast<int64_t>(store_.HeadPosition());
  const uint16_t port = bound_port_.load() ? bound_port_.load() : options_.port;
  json member = {{"instanceId", instance_id_},
                 {"timeStamp", FormatTime(std::chrono::duration_cast<std::chrono::microseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count())},
                 {"state", "Leader"},
                 {"isAlive", true},
                 {"internalTcpIp", options_.listen_address},
                 {"internalTcpPort", 0},
                 {"internalSecureTcpPort", 0},
                 {"externalTcpIp", options_.listen_address},
                 {"externalTcpPort", 0},
                 {"externalSecureTcpPort", 0},
                 {"httpEndPointIp", options_.listen_address},
                 {"httpEndPointPort", port},
                 {"lastCommitPosition", head},
                 {"writerCheckpoint", head},
                 {"chaserCheckpoint", head},
                 {"epochPosition", 0},
                 {"epochNumber", 0},
                 {"epochId", "00000000-0000-0000-0000-000000000000"},
                 {"nodePriority", 0},
                 {"isReadOnlyReplica", false}};
  json j = {{"members", json::array({member})},
            {"serverIp", options_.listen_address},
            {"serverPort", port}};
  return http::JsonResponse(HttpStatus::ok, DumpJson(j));
}

Response EventStoreService::Stats(const Exchange&) const {
  store::Stats s = store_.GetStats();
  long rss_pages = 0;
  {
    std::ifstream statm("/proc/self/statm");
    long size = 0;
    statm >> size >> rss_pages;
  }
  long page = sysconf(_SC_PAGESIZE);
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - started_);
  json j = {
      {"proc",
       {{"startTime", FormatTime(std::chrono::duration_cast<std::chrono::microseconds>(started_.time_since_epoch()).count())},
        {"id", static_cast<int64_t>(getpid())},
        {"mem", static_cast<int64_t>(rss_pages) * page},
        {"uptimeSeconds", uptime.count()},
        {"threadsCount", static_cast<int64_t>(std::thread::hardware_concurrency())}}},
      {"sys", {{"cpuCount", static_cast<int64_t>(std::thread::hardware_concurrency())}}},
      {"es",
       {{"writer",
         {{"appends", s.appends},
          {"eventsWritten", s.events_written},
          {"bytesWritten", s.bytes_written},
          {"fsyncs", s.fsyncs},
          {"fsyncTotalMicroseconds", s.fsync_total_us},
          {"headPosition", s.head_position},
          {"failure", s.failure}}},
        {"reads", s.reads},
        {"streams", s.streams}}}};
  return http::JsonResponse(HttpStatus::ok, DumpJson(j));
}

Response EventStoreService::Metrics(const Exchange&) const {
  return http::MakeResponse(HttpStatus::ok, metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
}

Response EventStoreService::WebAsset(const Exchange& ex) const {
  std::string path(ex.Param("path"));
  if (path.empty()) path = "index.html";
  const auto* asset = FindWebAsset(path);
  if (!asset) return ErrorResponse(HttpStatus::not_found, "Not Found");
  Response r = http::MakeResponse(HttpStatus::ok, std::string(asset->data), asset->content_type);
  r.set(http::bhttp::field::cache_control, "no-cache");
  return r;
}

}  // namespace dt::store_http
