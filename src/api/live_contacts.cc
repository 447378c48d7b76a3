#include "api/live_contacts.h"

namespace dt::api {

namespace {
thread_local const LiveContacts::Pin* t_pin = nullptr;
}  // namespace

LiveContacts::Pin::Pin(const std::string& user_id, const tracker::Contact& contact)
    : user_id_(user_id), contact_(contact), outer_(t_pin) {
  t_pin = this;
}

LiveContacts::Pin::~Pin() { t_pin = outer_; }

LiveContacts::LiveContacts(readmodel::ReadModelStore& store, const readmodel::Projector& projector,
                           size_t max_entries)
    : store_(store), projector_(projector), max_entries_(max_entries) {}

std::string LiveContacts::Key(const std::string& user_id, const std::string& id) {
  std::string k;
  k.reserve(user_id.size() + 1 + id.size());
  k.append(user_id).push_back('\n');
  k.append(id);
  return k;
}

bool LiveContacts::Usable(uint64_t activations) const {
  return activations == activations_;
}

std::optional<tracker::Contact> LiveContacts::Find(const std::string& user_id,
                                                   const std::string& id) {
  if (!projector_.Active()) return std::nullopt;
  const uint64_t activations = projector_.Activations();
  std::lock_guard lock(mu_);
  if (!Usable(activations)) {
    live_.clear();
    activations_ = activations;
    ++generation_;
    return std::nullopt;
  }
  auto it = live_.find(Key(user_id, id));
  if (it == live_.end()) return std::nullopt;
  return it->second;
}

Result<std::optional<tracker::Contact>> LiveContacts::Get(const std::string& user_id,
                                                          const std::string& id) {
  for (const Pin* p = t_pin; p; p = p->outer_) {
    if (p->contact_.id == id && p->user_id_ == user_id) return std::optional(p->contact_);
  }
  if (auto known = Find(user_id, id)) return known;
  // What the read model says now; remembered only if no contact event was applied (and the
  // projector lock was not lost) since before the query began.
  const bool active = projector_.Active();
  const uint64_t activations = projector_.Activations();
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    generation = generation_;
  }
  auto r = store_.GetContact(user_id, id);
  if (!active || !r.ok() || !r->has_value()) return r;
  const tracker::Contact& c = **r;
  if (c.is_deleted || c.user_id != user_id || c.id != id) return r;
  std::lock_guard lock(mu_);
  if (generation_ != generation || !Usable(activations) || !projector_.Active() ||
      projector_.Activations() != activations) {
    return r;
  }
  if (live_.size() >= max_entries_) live_.clear();
  live_.insert_or_assign(Key(user_id, id), c);
  return r;
}

void LiveContacts::Applied(const std::vector<readmodel::EventRow>& events) {
  for (const auto& e : events) {
    if (e.aggregate_type == "contact") {
      std::lock_guard lock(mu_);
      live_.clear();
      ++generation_;
      return;
    }
  }
}

size_t LiveContacts::size() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

}  // namespace dt::api
