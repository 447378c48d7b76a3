// Graceful-stop signals for main(): block SIGTERM/SIGINT in every thread, then wait
// for one on the main thread.
//
// Call BlockTerminationSignals() first thing in main(), before any thread starts
// (threads inherit the mask), then start the servers and call WaitForTerminationSignal().
#pragma once

namespace dt::http {

void BlockTerminationSignals();
// Blocks until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace dt::http
