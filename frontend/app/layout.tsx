import type { Metadata, Viewport } from "next";
import Link from "next/link";

import "./globals.css";
import { Providers } from "./providers";

export const metadata: Metadata = {
  title: "StoryFlow",
  description: "A local narration studio: turn a story into narrated audio on your own machine.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

/** The page frame: a header with the two sections (projects, settings) and the page below. */
export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="site-header">
          <div className="site-header-inner">
            <Link href="/" className="brand">
              StoryFlow
            </Link>
            <nav aria-label="Main">
              <Link href="/">Projects</Link>
              <Link href="/settings">Settings</Link>
            </nav>
          </div>
        </header>
        <main className="page">
          <Providers>{children}</Providers>
        </main>
      </body>
    </html>
  );
}
