// The auth-* scenarios of issue 14: the same requests as a registry's clients send with access
// control on, against Berth with access control on and Distribution with htpasswd
// (servers.hpp), interleaved like the others:
//   auth-token-user, auth-token-robot   GET /token with Basic credentials (Berth alone:
//                                       Distribution with htpasswd has no token server)
//   auth-{head,get,tags}-bearer         manifest HEAD/GET and tags/list with a token fetched
//                                       once per connection before the timed part, and again
//                                       if it expires (Berth alone, for the same reason)
//   auth-{head,get,tags}-basic          the same with Basic credentials on every request, as
//                                       curl sends them (both)
//   auth-push-flow, auth-pull-flow      a small image pushed or pulled after docker's sign-in:
//                                       GET /v2/ → 401 → a token from the realm for Berth,
//                                       Basic credentials for Distribution (both)
// Every run is bounded by time, not by a count: today a Basic request to Berth costs a bcrypt
// of cost 12 (a few per second), and a count would make such a run last minutes.
#pragma once

#include <vector>

#include "driver/scenarios.hpp"

namespace berth::bench {

void add_auth_scenarios(std::vector<Scenario>& out, const Scale& scale, const SharedData& data,
                        const ScenarioOptions& options);

}  // namespace berth::bench
