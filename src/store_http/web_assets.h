// The web UI's static files (web/ in the repository), embedded into the binary at build
// time by embed_web.cmake, so dt-eventstore needs no files beside it.
//
// Thread-safety: immutable data.
#pragma once

#include <string_view>

namespace dt::store_http {

struct WebAsset {
  std::string_view path;          // relative to web/, e.g. "index.html", "app.js"
  std::string_view content_type;
  std::string_view data;
};

// nullptr when there is no such file.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace dt::store_http
