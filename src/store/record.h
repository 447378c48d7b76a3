// record.h: encoding and decoding of one log record (layout in record_format.h).
//
// EncodeRecord appends a record to a buffer; DecodeRecord checks one record in a buffer
// (bounds, version, flags, lengths, trailer, CRC32C, own position) and returns views into
// that buffer. Decoding never reads outside [p, p + avail) and accepts any bytes (it is
// fuzzed by record_fuzz.cc).
//
// Thread-safety: pure functions. A RecordView borrows the decoded buffer: keep the buffer
// alive and unchanged while the view is used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/uuid.h"
#include "store/record_format.h"

namespace dt::store {

struct RecordView {
  uint64_t position = 0;
  uint32_t length = 0;  // bytes of the whole record
  int64_t number = 0;
  int64_t created_us = 0;
  Uuid id;
  uint8_t flags = 0;
  std::string_view stream;
  std::string_view type;
  std::string_view data;
  std::string_view metadata;

  bool commit() const { return flags & format::kFlagCommit; }
  bool is_json() const { return flags & format::kFlagIsJson; }
};

// What an encoder needs; the views must stay valid during EncodeRecord.
struct RecordFields {
  uint64_t position = 0;
  int64_t number = 0;
  int64_t created_us = 0;
  Uuid id;
  bool commit = false;
  bool is_json = false;
  std::string_view stream;
  std::string_view type;
  std::string_view data;
  std::string_view metadata;
};

// Bytes the record of these field sizes takes on disk.
inline uint64_t EncodedSize(size_t stream, size_t type, size_t data, size_t metadata) {
  return format::kOverhead + uint64_t{stream} + type + data + metadata;
}

// Appends the record to *out. Requires stream/type sizes within the format's limits and
// the total within kMaxRecordBytes (the engine checks its own smaller limits first).
void EncodeRecord(const RecordFields& fields, std::string* out);

enum class DecodeStatus {
  kOk,         // *view is a valid record
  kTruncated,  // avail is shorter than the record (or its header): read more bytes
  kZero,       // the length field is zero: no record was written here
  kBad,        // bytes that are not a valid record (why: *error)
};

// Decodes the record at p[0, avail). expected_position is the log position of p[0]; a
// record claiming another position is kBad. On kTruncated, *needed (when non-null) is the
// number of bytes the record needs, if known (0 when even the header is incomplete).
DecodeStatus DecodeRecord(const char* p, size_t avail, uint64_t expected_position,
                          RecordView* view, std::string* error, uint64_t* needed = nullptr);

// The length field of the record at p (p must hold at least 8 bytes).
uint32_t PeekRecordLength(const char* p);
// The trailer ending at p_end (the 4 bytes before p_end).
uint32_t PeekTrailerLength(const char* p_end);

}  // namespace dt::store
