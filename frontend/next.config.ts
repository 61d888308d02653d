import type { NextConfig } from "next";

/**
 * Next.js configuration for StoryFlow's editor.
 *
 * `/api/*` is forwarded to Django by `proxy.ts` and `/media/*` by
 * `app/media/[...path]/route.ts`; both read `BACKEND_URL` at run time (not at
 * build time), so one build can talk to a Django on any port. Django's URLs end in a slash, so Next must not
 * strip trailing slashes (`skipTrailingSlashRedirect`). Compression is off so
 * that proxied Server-Sent Events are not held back by gzip buffering.
 */
const nextConfig: NextConfig = {
  reactStrictMode: true,
  skipTrailingSlashRedirect: true,
  compress: false,
  poweredByHeader: false,
};

export default nextConfig;
