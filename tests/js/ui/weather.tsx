// The components the test graph (tests/ui_graphs.py) declares, bundled by the gateway and
// rendered in the page through LoadExternalComponent.
import { useState } from "react";
import { useStreamContext } from "@langchain/langgraph-sdk/react-ui";
import "./weather.css";

function WeatherCard({ city, degrees }: { city: string; degrees: number }) {
  const stream = useStreamContext();
  const [unit, setUnit] = useState<"C" | "F">("C");
  const shown = unit === "C" ? degrees : Math.round((degrees * 9) / 5 + 32);
  return (
    <div className="weather-card" data-assistant={stream.assistantId}>
      <p className="weather-text">
        {city}: {shown}°{unit}
      </p>
      <button type="button" onClick={() => setUnit(unit === "C" ? "F" : "C")}>
        °{unit === "C" ? "F" : "C"}
      </button>
    </div>
  );
}

export default { weather: WeatherCard };
