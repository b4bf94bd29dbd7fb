// Joins a running AG-UI run (GET its stream without Last-Event-ID) and reads it to its end
// through @ag-ui/client's own HTTP parsing and event verifier, which refuses any stream that
// is not valid AG-UI. Prints the events as one JSON array.
import { runHttpRequest, transformHttpEventStream, verifyEvents } from "@ag-ui/client";
import { lastValueFrom, toArray } from "rxjs";

const [url] = process.argv.slice(2);
const events = await lastValueFrom(
  transformHttpEventStream(runHttpRequest(() => fetch(url))).pipe(verifyEvents(), toArray()),
);
console.log(JSON.stringify(events));
