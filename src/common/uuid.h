// Uuid: a 16-byte RFC 4122 identifier (event ids, aggregate ids).
//
// Parse accepts the canonical 8-4-4-4-12 hex form (either case) and, as
// EventStoreDB does, the 32-hex-digit form without dashes and the form in braces.
// Random() draws version-4 ids from a per-thread generator seeded from the OS.
// TimeOrdered() draws version-7 ids (RFC 9562: 48-bit Unix milliseconds, then random bits):
// ids made in a later millisecond sort after earlier ones, so keys made together land
// together in B-trees and indexes instead of on a random page each.
// NameBased() derives a version-5 (SHA-1) id from a namespace and a name, used
// where an id must be deterministic (idempotency keys).
//
// Thread-safety: values; all functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dt {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  static Uuid Random();
  static Uuid TimeOrdered();
  static Uuid NameBased(const Uuid& name_space, std::string_view name);
  static std::optional<Uuid> Parse(std::string_view text);

  bool IsNil() const;
  std::string ToString() const;  // lower-case canonical form

  friend bool operator==(const Uuid&, const Uuid&) = default;
  friend auto operator<=>(const Uuid&, const Uuid&) = default;
};

}  // namespace dt

template <>
struct std::hash<dt::Uuid> {
  size_t operator()(const dt::Uuid& u) const noexcept {
    uint64_t a, b;
    __builtin_memcpy(&a, u.bytes.data(), 8);
    __builtin_memcpy(&b, u.bytes.data() + 8, 8);
    return std::hash<uint64_t>()(a * 0x9E3779B97F4A7C15ull ^ b);
  }
};
