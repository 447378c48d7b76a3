// PgStore: ReadModelStore in PostgreSQL (libpq).
//
// One writer connection (the projector's; it also holds the session advisory lock that
// elects the single active projector across instances) and a pool of query connections.
// A batch is written with one INSERT ... SELECT FROM unnest($arrays) ... ON CONFLICT per
// table, so a batch of thousands of events costs a handful of round trips.
//
// Thread-safety: see ReadModelStore.
#pragma once

#include <memory>
#include <string>

#include "readmodel/read_model_store.h"

namespace dt::readmodel {

// `url`: a libpq connection URI (postgresql://user:pass@host:port/db?options=...).
Result<std::unique_ptr<ReadModelStore>> OpenPgStore(const std::string& url);

// The advisory lock key that elects the projector.
inline constexpr int64_t kProjectorLockKey = 0x4454726b50726a31;  // "DTrkPrj1"

}  // namespace dt::readmodel
