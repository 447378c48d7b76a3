// Internal to dt_http: the WebSocket implementation behind websocket.h.
#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <memory>

#include "http/exchange.h"
#include "http/server_core.h"
#include "http/websocket.h"

namespace dt::http {

// A WebSocket not yet connected: handed to the route's handler before the handshake.
std::shared_ptr<WebSocket> NewWebSocket(std::shared_ptr<Server::Core> core, std::string id,
                                        boost::asio::any_io_executor strand);
// Completes the handshake over `stream` and starts reading and writing.
void AcceptWebSocket(const std::shared_ptr<WebSocket>& ws, boost::beast::tcp_stream stream,
                     Request upgrade);

}  // namespace dt::http
