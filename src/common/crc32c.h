// CRC-32C (Castagnoli), the checksum on every log record.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise; both give
// the same values (checked by crc32c_test against the RFC 3720 test vectors).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dt::crc32c {

// Extends `crc` (the CRC of some earlier bytes; 0 for none) with data[0, n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

}  // namespace dt::crc32c
