// libFuzzer target: arbitrary bytes parsed as an HTTP request (Beast's parser, with the
// server's limits) and dispatched through dt-eventstore's whole route table over a real
// engine. Any crash, sanitizer report or handler exception (a 500) is a bug. The bytes
// (and the body of a request they parse to) are also read as a list of events by both
// readings of append_request.h: where the fast one answers, the reference must agree.
#include <stdlib.h>

#include <boost/beast/http/parser.hpp>
#include <cstdint>
#include <memory>

#include "http/metrics.h"
#include "http/router.h"
#include "store/store.h"
#include "store_http/append_request.h"
#include "store_http/service.h"

namespace {

struct Env {
  Env() {
    char tmpl[] = "/tmp/dt-fuzz-store.XXXXXX";
    folder = mkdtemp(tmpl);
    dt::store::Options o;
    o.folder = folder;
    o.segment_bytes = 4u << 20;
    o.sync = false;  // durability is not what is fuzzed here; speed is needed
    store = std::move(dt::store::Store::Open(o)).value();
    dt::store_http::ServiceOptions so;
    so.insecure = true;  // reach the handlers without guessing credentials
    service = std::make_unique<dt::store_http::EventStoreService>(*store, so, metrics);
    router = std::make_unique<dt::http::Router>(service->Routes());
  }
  std::string folder;
  dt::http::Registry metrics;
  std::unique_ptr<dt::store::Store> store;
  std::unique_ptr<dt::store_http::EventStoreService> service;
  std::unique_ptr<dt::http::Router> router;
};

// Aborts when ParseEventsFast accepts a body the reference reads otherwise.
void CrossCheckEventReaders(const std::string& body) {
  constexpr size_t kMax = 1u << 20;
  auto fast = dt::store_http::ParseEventsFast(body, kMax);
  if (!fast) return;
  auto ref = dt::store_http::ParseEventsReference(body, kMax);
  auto* events = std::get_if<std::vector<dt::store::EventData>>(&ref);
  bool same = events && events->size() == fast->size();
  for (size_t i = 0; same && i < events->size(); ++i) {
    const auto& a = (*events)[i];
    const auto& b = (*fast)[i];
    same = a.id == b.id && a.type == b.type && a.data == b.data && a.metadata == b.metadata &&
           a.is_json == b.is_json;
  }
  if (!same) {
    fprintf(stderr, "event readers disagree on a body of %zu bytes\n", body.size());
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Env* env = new Env();  // lives for the whole run
  CrossCheckEventReaders(std::string(reinterpret_cast<const char*>(data), size));
  namespace bhttp = boost::beast::http;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.header_limit(16 << 10);
  parser.body_limit(1 << 20);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  CrossCheckEventReaders(parser.get().body());
  dt::http::Response res = env->router->Call(dt::http::MakeExchange(parser.release()));
  if (res.result_int() >= 500) {
    fprintf(stderr, "server error %u %s\n", res.result_int(), std::string(res.reason()).c_str());
    abort();
  }
  return 0;
}
