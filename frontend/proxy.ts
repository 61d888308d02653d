import { NextResponse, type NextRequest } from "next/server";

/**
 * Same-origin proxy: the browser only ever talks to Next, and Next forwards
 * `/api/*` to Django. (`/media/*` goes through `app/media/[...path]/route.ts`,
 * which adds the HTTP Range support that Django's file serving lacks.)
 *
 * The target is read from the `BACKEND_URL` environment variable on every
 * request (default `http://127.0.0.1:8000`), so the same production build
 * serves `scripts/run` (Django on 8000) and the Playwright tests (Django on a
 * free port chosen at test time). `next.config` rewrites could not do this:
 * they are frozen into the build.
 *
 * A rewrite to another origin is streamed by Next's own HTTP proxy: request
 * bodies and Server-Sent Events pass through unchanged.
 */
export function proxy(request: NextRequest): NextResponse {
  const backend = process.env.BACKEND_URL || "http://127.0.0.1:8000";
  const { pathname, search } = request.nextUrl;
  return NextResponse.rewrite(new URL(`${pathname}${search}`, backend));
}

export const config = {
  matcher: ["/api/:path*"],
};
