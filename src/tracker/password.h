// Password hashing with argon2id (libargon2): salted, slow, in the PHC string form
// ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") so the parameters travel with the hash.
//
// Thread-safety: pure functions (each call allocates its own argon2 memory).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace dt::tracker {

Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view encoded_hash, std::string_view password);

}  // namespace dt::tracker
