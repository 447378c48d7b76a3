// Text encodings shared by the HTTP layer, the event store client and the API's tokens:
// hexadecimal digits, base64 (RFC 4648 §4, padded) and base64url (§5, unpadded, as JWTs use
// it), percent-encoding (RFC 3986), and JSON string text.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dt {

// 0–15 for a hexadecimal digit of either case, -1 for anything else.
int HexDigitValue(char c);

// Lowercase hexadecimal, two digits a byte (digests).
std::string HexEncode(std::string_view bytes);

// Standard alphabet with '=' padding (HTTP Basic credentials).
std::string Base64Encode(std::string_view in);
// Accepts the padded and the unpadded form; nullopt for a character outside the alphabet or
// a length that no encoding produces.
std::optional<std::string> Base64Decode(std::string_view in);

// URL-safe alphabet ('-' and '_'), no padding (JWT segments).
std::string Base64UrlEncode(std::string_view in);
// nullopt for any character outside the URL-safe alphabet ('=' included) or a bad length.
std::optional<std::string> Base64UrlDecode(std::string_view in);

// Encodes everything but unreserved characters (RFC 3986) and, when keep_slash, '/'.
std::string PercentEncode(std::string_view in, bool keep_slash = false);
// Decodes %XX escapes (and '+' as a space when plus_is_space). nullopt for a malformed
// escape, so a bad request target is a 400 rather than a guess.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space = false);

// Appends `s` as a JSON string, quotes included, byte for byte as nlohmann::json's dump()
// writes it: '"', '\\' and control characters escaped (\b \t \n \f \r, others as \u00xx),
// every other byte as it is. `s` must be valid UTF-8 without surrogates (the caller checks
// where the text may be otherwise); written text is then what a parser reads back as `s`.
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace dt
