import type { NextConfig } from "next";

/**
 * Next.js configuration for StoryFlow's editor.
 *
 * `/api/*` and `/media/*` are forwarded to Django by `proxy.ts`, which reads
 * `BACKEND_URL` when the server starts (not at build time), so one build can
 * talk to a Django on any port. Django's URLs end in a slash, so Next must not
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
