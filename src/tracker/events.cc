#include "tracker/events.h"

namespace dt::tracker {

const Uuid& UserNamespace() {
  static const Uuid kNs = *Uuid::Parse("3b8f5a52-9d2e-4c1a-8f7b-1e6d0c2a9b41");
  return kNs;
}

const Uuid& IdempotencyNamespace() {
  static const Uuid kNs = *Uuid::Parse("a4d1c7e0-52b3-4f86-9c0e-7b2f18d6e3a5");
  return kNs;
}

}  // namespace dt::tracker
