#include "client/in_process_client.h"

namespace dt::client {
namespace {

ResolvedEvent Convert(store::RecordedEvent&& e) {
  ResolvedEvent r;
  r.stream = std::move(e.stream);
  r.number = e.number;
  r.id = e.id;
  r.type = std::move(e.type);
  r.data = std::move(e.data);
  r.metadata = std::move(e.metadata);
  r.created_us = e.created_us;
  return r;
}

Result<StreamPage> ConvertSlice(Result<store::StreamSlice> slice) {
  if (!slice.ok()) return slice.status();
  StreamPage page;
  page.last_number = slice->last_number;
  page.end_of_stream = slice->end_of_stream;
  page.events.reserve(slice->events.size());
  for (auto& e : slice->events) page.events.push_back(Convert(std::move(e)));
  return page;
}

}  // namespace

Result<std::unique_ptr<InProcessClient>> InProcessClient::Open(const std::string& folder) {
  store::Options options;
  options.folder = folder;
  auto opened = store::Store::Open(options);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<InProcessClient>(
      new InProcessClient(std::move(opened).value(), folder));
}

InProcessClient::InProcessClient(std::unique_ptr<store::Store> owned, std::string folder)
    : owned_(std::move(owned)), store_(*owned_), folder_(std::move(folder)) {
  head_ = store_.HeadPosition();
  listener_id_ = store_.AddCommitListener([this](store::Position head) {
    {
      std::lock_guard lock(mu_);
      head_ = head;
    }
    committed_.notify_all();
  });
}

InProcessClient::InProcessClient(store::Store& store, std::string folder)
    : store_(store), folder_(std::move(folder)) {
  head_ = store_.HeadPosition();
  listener_id_ = store_.AddCommitListener([this](store::Position head) {
    {
      std::lock_guard lock(mu_);
      head_ = head;
    }
    committed_.notify_all();
  });
}

InProcessClient::~InProcessClient() {
  store_.RemoveCommitListener(listener_id_);
  if (owned_) (void)owned_->Close();
}

namespace {
std::vector<store::EventData> ToEventData(std::vector<ProposedEvent>&& events) {
  std::vector<store::EventData> batch;
  batch.reserve(events.size());
  for (auto& e : events) {
    store::EventData d;
    d.id = e.id;
    d.type = std::move(e.type);
    d.data = std::move(e.data);
    d.metadata = std::move(e.metadata);
    d.is_json = true;
    batch.push_back(std::move(d));
  }
  return batch;
}
}  // namespace

Result<AppendResult> InProcessClient::Append(std::string_view stream, int64_t expected_version,
                                             std::vector<ProposedEvent> events) {
  auto r = store_.Append(stream, expected_version, ToEventData(std::move(events)));
  if (!r.ok()) return r.status();
  return AppendResult{r->first_number, r->last_number};
}

void InProcessClient::AppendAsync(std::string_view stream, int64_t expected_version,
                                  std::vector<ProposedEvent> events, AppendCallback done) {
  store_.AppendAsync(std::string(stream), expected_version, ToEventData(std::move(events)),
                     [done = std::move(done)](Result<store::AppendResult> r) {
                       if (!r.ok()) return done(r.status());
                       done(AppendResult{r->first_number, r->last_number});
                     });
}

Result<StreamPage> InProcessClient::ReadStreamForward(std::string_view stream, int64_t from,
                                                      size_t max_count) {
  return ConvertSlice(store_.ReadStream(stream, from, max_count, store::Direction::kForward));
}

Result<StreamPage> InProcessClient::ReadStreamBackward(std::string_view stream, int64_t from,
                                                       size_t max_count) {
  return ConvertSlice(store_.ReadStream(stream, from, max_count, store::Direction::kBackward));
}

Result<AllPage> InProcessClient::ReadAllForward(const AllPosition& from, size_t max_count,
                                                std::chrono::milliseconds long_poll) {
  auto deadline = std::chrono::steady_clock::now() + long_poll;
  for (;;) {
    auto slice = store_.ReadAll(from.commit, max_count, store::Direction::kForward);
    if (!slice.ok()) return slice.status();
    if (!slice->events.empty() || long_poll.count() <= 0 ||
        std::chrono::steady_clock::now() >= deadline) {
      AllPage page;
      page.next = AllPosition{slice->next_position, slice->next_position};
      if (slice->events.empty()) page.next = from;
      page.end_of_log = slice->end_of_log;
      page.events.reserve(slice->events.size());
      for (auto& e : slice->events) {
        if (!e.type.empty() && e.type[0] == '$') continue;
        page.events.push_back(Convert(std::move(e)));
      }
      return page;
    }
    std::unique_lock lock(mu_);
    committed_.wait_until(lock, deadline, [&] { return head_ > from.commit; });
  }
}

Status InProcessClient::ScanAllForward(const AllPosition& from, size_t max_count,
                                       const std::function<void(const ResolvedEventView&)>& each,
                                       AllPosition* next, bool* end_of_log) {
  // As ReadAllForward without a long poll, the events handed over where the engine read them.
  size_t records = 0;
  ResolvedEventView r;
  auto end = store_.ScanAll(from.commit, max_count, [&](const store::RecordedEventView& e) {
    ++records;
    if (!e.type.empty() && e.type[0] == '$') return;
    r.stream = e.stream;
    r.number = e.number;
    r.id = e.id;
    r.type = e.type;
    r.data = e.data;
    r.metadata = e.metadata;
    r.created_us = e.created_us;
    each(r);
  });
  if (!end.ok()) return end.status();
  *next = records == 0 ? from : AllPosition{end->next_position, end->next_position};
  *end_of_log = end->end_of_log;
  return Status::Ok();
}

Result<AllPosition> InProcessClient::ReadHead() {
  auto head = store_.HeadPosition();
  return AllPosition{head, head};
}

std::string InProcessClient::Describe() const {
  return "in-process engine at " + (folder_.empty() ? std::string("(borrowed store)") : folder_);
}

}  // namespace dt::client
