// OpenEventStoreClient: picks the implementation from EVENTSTORE_URL.
//   file:<folder>  -> InProcessClient (the engine in this process; folder relative or absolute)
//   http://...     -> RemoteClient (EventStoreDB HTTP API)
// Anything else is kInvalidArgument with a message naming the setting.
#pragma once

#include <memory>
#include <string>

#include "client/event_store_client.h"

namespace dt::client {

struct ClientConfig {
  std::string url;
  std::string username = "admin";
  std::string password = "changeit";
};

Result<std::unique_ptr<EventStoreClient>> OpenEventStoreClient(const ClientConfig& config);

// Checks the URL's form without opening anything ("" when fine, else the problem).
std::string CheckEventStoreUrl(const std::string& url);

}  // namespace dt::client
