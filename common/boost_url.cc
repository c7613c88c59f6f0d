// Boost.URL's compiled part, built into hoist as its header-only mode has
// it ("include <boost/url/src.hpp> in exactly one source file"): Debian's
// libboost1.81-dev ships the headers, and a shared libboost_url would be one
// more library for every hoist command to load at start-up.
#include <boost/url/src.hpp>
