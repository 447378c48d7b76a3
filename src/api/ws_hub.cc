#include "api/ws_hub.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "tracker/model.h"
#include "tracker/sync_format.h"

namespace dt::api {

using json = nlohmann::json;
using readmodel::EventRow;

struct RealtimeHub::Subscriber {
  std::shared_ptr<http::WebSocket> ws;
  std::string user_id;
  std::string occurred_after;  // catch-up filter (a timestamp ?since=)
  int64_t last_sent = -1;      // seq of the last event sent (or skipped as not pushed)
  bool live = false;
  bool gone = false;
  std::deque<Pending> pending;  // while catching up
};

RealtimeHub::RealtimeHub(readmodel::ReadModelStore& store, Options options)
    : store_(store), options_(options) {}

RealtimeHub::~RealtimeHub() { Stop(); }

Status RealtimeHub::Start() {
  if (hub_thread_.joinable()) return Status::Ok();
  DT_ASSIGN_OR_RETURN(readmodel::ProjectionState state, store_.LoadState(readmodel::Target::kLive));
  {
    std::lock_guard lock(mu_);
    position_ = state.events_applied - 1;
  }
  stop_ = false;
  hub_thread_ = std::thread([this] { HubLoop(); });
  catch_thread_ = std::thread([this] { CatchUpLoop(); });
  return Status::Ok();
}

void RealtimeHub::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  catch_cv_.notify_all();
  if (hub_thread_.joinable()) hub_thread_.join();
  if (catch_thread_.joinable()) catch_thread_.join();
  std::lock_guard lock(mu_);
  by_user_.clear();
  by_socket_.clear();
}

void RealtimeHub::Notify(int64_t applied_seq) {
  if (applied_seq >= 0) {
    std::lock_guard lock(mu_);
    applied_hint_ = std::max(applied_hint_, applied_seq);
  }
  {
    std::lock_guard lock(wake_mu_);
    notified_ = true;
  }
  wake_cv_.notify_one();
}

void RealtimeHub::Subscribe(const std::shared_ptr<http::WebSocket>& ws, const std::string& user_id,
                            std::optional<Cursor> cursor) {
  auto s = std::make_shared<Subscriber>();
  s->ws = ws;
  s->user_id = user_id;
  {
    std::lock_guard lock(mu_);
    if (cursor) {
      s->last_sent = cursor->after_seq;
      s->occurred_after = cursor->occurred_after;
    } else {
      s->last_sent = position_;
    }
    by_user_[user_id].push_back(s);
    by_socket_[ws.get()] = s;
  }
  {
    std::lock_guard lock(wake_mu_);
    catching_up_.push_back(s);
  }
  catch_cv_.notify_one();
}

void RealtimeHub::Unsubscribe(const http::WebSocket* ws) {
  std::lock_guard lock(mu_);
  auto it = by_socket_.find(ws);
  if (it == by_socket_.end()) return;
  auto s = it->second;
  s->gone = true;
  s->pending.clear();
  by_socket_.erase(it);
  auto u = by_user_.find(s->user_id);
  if (u != by_user_.end()) {
    auto& v = u->second;
    v.erase(std::remove(v.begin(), v.end(), s), v.end());
    if (v.empty()) by_user_.erase(u);
  }
}

void RealtimeHub::SendAfterCatchUp(const std::string& user_id, std::string message) {
  {
    std::lock_guard lock(mu_);
    custom_.emplace_back(user_id, std::move(message));
  }
  Notify();
}

RealtimeHub::Stats RealtimeHub::GetStats() {
  std::lock_guard lock(mu_);
  Stats st;
  st.subscribers = by_socket_.size();
  for (const auto& [ws, s] : by_socket_) st.live += s->live ? 1 : 0;
  st.position = position_;
  st.messages = messages_;
  st.closed_behind = closed_behind_;
  return st;
}

std::optional<std::string> RealtimeHub::BuildMessage(const EventRow& row) {
  json d = json::parse(row.data, nullptr, false);
  auto view = tracker::ToSyncView(row.event_type, d);
  if (!view) return std::nullopt;
  json data;
  bool deleted = view->kind == tracker::SyncKind::kDeleted;
  if (view->aggregate_type == "contact") {
    tracker::Contact c;
    if (!tracker::ContactFromJson(view->state, c)) return std::nullopt;
    c.version = row.version;
    c.is_deleted = deleted;
    std::map<std::string, int64_t> balances;
    int64_t balance = 0;
    auto rows = store_.Balances(row.user_id, c.id);
    if (rows.ok()) {
      for (const auto& b : *rows) {
        balances[b.currency] += b.amount;
        balance += b.amount;
      }
    }
    data = tracker::ContactView(c, balance, balances);
  } else {
    tracker::Transaction t;
    if (!tracker::TransactionFromJson(view->state, t)) return std::nullopt;
    t.version = row.version;
    t.is_deleted = deleted;
    data = tracker::TransactionView(t);
  }
  data["event_id"] = row.event_id;
  json msg = {{"type", tracker::RealtimeType(*view)},
              {"data", std::move(data)},
              {"checkpoint", std::to_string(row.seq + 1)}};
  return msg.dump(-1, ' ', false, json::error_handler_t::replace);
}

void RealtimeHub::DeliverLocked(Subscriber& s, int64_t seq, bool custom, const std::string& text) {
  if (s.gone) return;
  if (s.live) {
    if (!custom) {
      if (seq <= s.last_sent) return;
      s.last_sent = seq;
    }
    ++messages_;
    s.ws->Send(text);  // a full queue drops the client (dt_http); its on_close unsubscribes
    return;
  }
  if (s.pending.size() >= options_.max_pending) {
    spdlog::warn("msg=\"websocket subscriber too far behind; closing it\" id={}", s.ws->id());
    ++closed_behind_;
    s.gone = true;
    s.pending.clear();
    s.ws->Close();
    return;
  }
  s.pending.push_back(Pending{seq, custom, text});
}

Status RealtimeHub::Drain() {
  for (;;) {
    int64_t from;
    {
      std::lock_guard lock(mu_);
      if (by_user_.empty() && applied_hint_ > position_) {
        // Nobody to send to: nothing to read up to what is known to be applied. A subscriber
        // that comes now starts from here (or catches up from its own cursor).
        position_ = applied_hint_;
        return Status::Ok();
      }
      from = position_;
    }
    DT_ASSIGN_OR_RETURN(std::vector<EventRow> rows, store_.AllEventsAfter(from, options_.page));
    if (rows.empty()) return Status::Ok();
    std::unordered_set<std::string> listening;
    {
      std::lock_guard lock(mu_);
      for (const auto& r : rows) {
        if (by_user_.count(r.user_id)) listening.insert(r.user_id);
      }
    }
    // Messages are built outside the lock (contacts need a balance query).
    std::vector<std::pair<const EventRow*, std::string>> built;
    for (const auto& r : rows) {
      if (!listening.count(r.user_id)) continue;
      if (auto m = BuildMessage(r)) built.emplace_back(&r, std::move(*m));
    }
    {
      std::lock_guard lock(mu_);
      for (const auto& [r, text] : built) {
        auto it = by_user_.find(r->user_id);
        if (it == by_user_.end()) continue;
        for (const auto& s : it->second) DeliverLocked(*s, r->seq, false, text);
      }
      position_ = rows.back().seq;
    }
    if (rows.size() < options_.page) return Status::Ok();
  }
}

void RealtimeHub::HubLoop() {
  auto last_error_log = std::chrono::steady_clock::time_point{};
  std::unique_lock wake(wake_mu_);
  while (!stop_) {
    wake_cv_.wait_for(wake, options_.poll, [&] { return stop_.load() || notified_; });
    if (stop_) break;
    notified_ = false;
    wake.unlock();
    std::vector<std::pair<std::string, std::string>> custom;
    {
      std::lock_guard lock(mu_);
      custom.swap(custom_);
    }
    Status s = Drain();
    if (!s.ok()) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_error_log > std::chrono::seconds(10)) {
        last_error_log = now;
        spdlog::warn("msg=\"real-time hub cannot read the read model\" status=\"{}\"", s.ToString());
      }
    }
    if (!custom.empty()) {
      std::lock_guard lock(mu_);
      for (const auto& [user, text] : custom) {
        auto it = by_user_.find(user);
        if (it == by_user_.end()) continue;
        for (const auto& sub : it->second) DeliverLocked(*sub, position_, true, text);
      }
    }
    wake.lock();
  }
}

int RealtimeHub::CatchUpStep(const std::shared_ptr<Subscriber>& s) {
  int64_t after;
  {
    std::lock_guard lock(mu_);
    if (s->gone) return -2;
    after = s->last_sent;
  }
  if (s->ws->closed()) return -2;
  size_t half = std::max<size_t>(1, options_.socket_queue_limit / 2);
  size_t queued = s->ws->queued();
  if (queued >= half) return -1;
  size_t limit = std::min(options_.page, half - queued);
  auto rows = store_.EventsAfter(s->user_id, after, s->occurred_after, limit);
  if (!rows.ok()) {
    spdlog::warn("msg=\"websocket replay failed; closing the socket\" id={} status=\"{}\"",
                 s->ws->id(), rows.status().ToString());
    s->ws->Close();
    return -2;
  }
  for (const auto& r : *rows) {
    auto m = BuildMessage(r);
    std::lock_guard lock(mu_);
    if (s->gone) return -2;
    if (m) {
      s->ws->Send(std::move(*m));
      ++messages_;
    }
    s->last_sent = r.seq;
  }
  if (rows->size() == limit) return 0;
  // Caught up with what was committed when the read began; whatever came later is pending.
  std::lock_guard lock(mu_);
  if (s->gone) return -2;
  for (auto& p : s->pending) {
    if (!p.custom) {
      if (p.seq <= s->last_sent) continue;
      s->last_sent = p.seq;
    }
    ++messages_;
    s->ws->Send(std::move(p.text));
  }
  s->pending.clear();
  s->live = true;
  return 1;
}

void RealtimeHub::CatchUpLoop() {
  size_t waiting_in_a_row = 0;
  for (;;) {
    std::shared_ptr<Subscriber> s;
    {
      std::unique_lock lock(wake_mu_);
      if (waiting_in_a_row > 0 && waiting_in_a_row >= catching_up_.size()) {
        // Every subscriber in the queue waits for its socket to drain: pause a little.
        catch_cv_.wait_for(lock, std::chrono::milliseconds(5), [&] { return stop_.load(); });
        waiting_in_a_row = 0;
      }
      catch_cv_.wait(lock, [&] { return stop_.load() || !catching_up_.empty(); });
      if (stop_) return;
      s = std::move(catching_up_.front());
      catching_up_.pop_front();
    }
    int r = CatchUpStep(s);
    if (r == 1 || r == -2) {
      waiting_in_a_row = 0;
      continue;
    }
    waiting_in_a_row = r == -1 ? waiting_in_a_row + 1 : 0;
    std::lock_guard lock(wake_mu_);
    catching_up_.push_back(std::move(s));
  }
}

}  // namespace dt::api
