#include "client/event_store_client.h"

#include <cstdio>

namespace dt::client {
namespace {

std::optional<uint64_t> ParseHex16(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

std::string AllPosition::ToString() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llX%016llX", static_cast<unsigned long long>(commit),
                static_cast<unsigned long long>(prepare));
  return buf;
}

std::optional<AllPosition> AllPosition::Parse(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  auto c = ParseHex16(text.substr(0, 16));
  auto p = ParseHex16(text.substr(16));
  if (!c || !p) return std::nullopt;
  return AllPosition{*c, *p};
}

Status EventStoreClient::ScanAllForward(const AllPosition& from, size_t max_count,
                                        const std::function<void(const ResolvedEventView&)>& each,
                                        AllPosition* next, bool* end_of_log) {
  auto page = ReadAllForward(from, max_count, std::chrono::milliseconds(0));
  if (!page.ok()) return page.status();
  for (const ResolvedEvent& e : page->events) {
    each(ResolvedEventView{e.stream, e.number, e.id, e.type, e.data, e.metadata, e.created_us});
  }
  *next = page->next;
  *end_of_log = page->end_of_log;
  return Status::Ok();
}

Status ReadWholeStream(EventStoreClient& client, std::string_view stream,
                       std::vector<ResolvedEvent>& out) {
  constexpr size_t kPage = 500;
  int64_t from = 0;
  for (;;) {
    auto page = client.ReadStreamForward(stream, from, kPage);
    if (!page.ok()) {
      // A stream whose early events are hidden may start later; the first read says so.
      return page.status();
    }
    if (page->events.empty()) return Status::Ok();
    from = page->events.back().number + 1;
    bool end = page->end_of_stream;
    for (auto& e : page->events) out.push_back(std::move(e));
    if (end) return Status::Ok();
  }
}

}  // namespace dt::client
