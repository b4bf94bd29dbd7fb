import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built once when the tests are set up; the test serves dist/ beside the gateway's API.
export default defineConfig({
  plugins: [react()],
  logLevel: "warn",
  build: { chunkSizeWarningLimit: 2048 }, // one test page: its size does not matter
});
