// Atrium's browser UI entry point. The pages live in js/*.js (loaded before this file, in
// order, by index.html) and register their routes with Atrium.route; this starts the router.
"use strict";

Atrium.start();
