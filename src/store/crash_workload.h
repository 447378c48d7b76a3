// crash_workload.h: the deterministic workload of the SIGKILL crash test, shared by the
// child that appends and the test that verifies. Event (stream, number) always has the same
// id, type and bytes, so the verifier can check every event it finds.
#pragma once

#include <string>

#include "common/uuid.h"
#include "store/store.h"

namespace dt::store::crash {

inline std::string StreamName(int thread, int k) {
  return "crash-" + std::to_string(thread) + "-" + std::to_string(k);
}

inline EventData EventFor(const std::string& stream, int64_t number) {
  static const Uuid kNamespace = *Uuid::Parse("6f1d0c8e-3a52-4d7e-9b1a-2c4e5f607182");
  EventData e;
  e.id = Uuid::NameBased(kNamespace, stream + "/" + std::to_string(number));
  e.type = "Crash" + std::to_string(number % 4);
  // Sizes vary with the number so records straddle pages and segments differently.
  const size_t pad = static_cast<size_t>((number * 7919) % 1500);
  e.data = "{\"s\":\"" + stream + "\",\"n\":" + std::to_string(number) + ",\"pad\":\"" +
           std::string(pad, static_cast<char>('a' + number % 26)) + "\"}";
  e.metadata = "{\"m\":" + std::to_string(number) + "}";
  e.is_json = true;
  return e;
}

}  // namespace dt::store::crash
