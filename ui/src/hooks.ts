import { useCallback, useEffect, useRef, useState } from "react";
import { wsUrl } from "./api/client";

export type Async<T> = {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
  set: (value: T) => void;
};

/** Runs `load` now and whenever `deps` change or `reload()` is called. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const [loadedFor, setLoadedFor] = useState<string>();
  const key = JSON.stringify([...deps, tick]);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (value) => {
        if (!live) return;
        setData(value);
        setError(undefined);
        setLoading(false);
        setLoadedFor(key);
      },
      (e: unknown) => {
        if (!live) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
        setLoadedFor(key);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  // Loading from the very render whose inputs changed, not only once the effect ran.
  return { data, error, loading: loading || loadedFor !== key, reload, set: setData };
}

export type SocketState = "connecting" | "open" | "closed";

/**
 * A WebSocket to `path()` that reconnects (1 s, 2 s … up to 10 s) until unmounted or
 * until `onMessage` returns "done". `path` is called at each (re)connect, so it can
 * carry a resume offset.
 */
export function useSocket(
  path: (() => string) | null,
  onMessage: (message: Record<string, unknown>) => void | "done",
): SocketState {
  const [state, setState] = useState<SocketState>("connecting");
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const pathRef = useRef(path);
  pathRef.current = path;
  const enabled = path !== null;
  useEffect(() => {
    if (!enabled) return;
    let stopped = false;
    let socket: WebSocket | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = 1000;
    const connect = () => {
      const next = pathRef.current;
      if (stopped || next === null) return;
      setState("connecting");
      socket = new WebSocket(wsUrl(next()));
      socket.onopen = () => {
        delay = 1000;
        setState("open");
      };
      socket.onmessage = (event) => {
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(String(event.data)) as Record<string, unknown>;
        } catch {
          return;
        }
        if (handler.current(message) === "done") {
          stopped = true;
          socket?.close();
        }
      };
      socket.onclose = () => {
        setState("closed");
        if (stopped) return;
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close();
    };
  }, [enabled]);
  return state;
}

/** Calls `fn` every `ms` while mounted. */
export function useInterval(fn: () => void, ms: number): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}
