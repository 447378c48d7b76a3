// libFuzzer target for the record decoder: any bytes must decode without reading out of
// bounds, and whatever decodes as a record must re-encode to exactly the same bytes.
// Walks the input as a log would: consecutive records, each at its own offset.
#include <cstdint>
#include <cstring>
#include <string>

#include "store/record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dt::store;
  const char* p = reinterpret_cast<const char*>(data);
  // The log position of the input's first byte: taken from the bytes where a record keeps
  // its own position, so the decoder's deeper checks are reached too.
  uint64_t base = 0;
  if (size >= format::kPositionOffset + 8) std::memcpy(&base, p + format::kPositionOffset, 8);
  size_t off = 0;
  while (off < size) {
    RecordView v;
    std::string error;
    uint64_t needed = 0;
    DecodeStatus s = DecodeRecord(p + off, size - off, base + off, &v, &error, &needed);
    if (s != DecodeStatus::kOk) break;
    if (v.length < format::kOverhead || v.length > size - off) __builtin_trap();
    RecordFields f;
    f.position = v.position;
    f.number = v.number;
    f.created_us = v.created_us;
    f.id = v.id;
    f.commit = v.commit();
    f.is_json = v.is_json();
    f.stream = v.stream;
    f.type = v.type;
    f.data = v.data;
    f.metadata = v.metadata;
    std::string again;
    EncodeRecord(f, &again);
    if (again.size() != v.length || std::memcmp(again.data(), p + off, v.length) != 0) __builtin_trap();
    off += v.length;
  }
  return 0;
}
