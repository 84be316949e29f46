import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, ok, UNAUTHORIZED, type User } from "./api/client";

type Auth = {
  user: User | null | undefined; // undefined: still asking
  isAdmin: boolean;
  login: (email: string, password: string) => Promise<void>;
  register: (name: string, email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
};

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  useEffect(() => {
    ok(api.GET("/api/auth/me")).then(
      (me) => setUser(me.user),
      () => setUser(null),
    );
    const ended = () => setUser(null);
    window.addEventListener(UNAUTHORIZED, ended);
    return () => window.removeEventListener(UNAUTHORIZED, ended);
  }, []);
  const login = useCallback(async (email: string, password: string) => {
    const session = await ok(api.POST("/api/auth/login", { body: { email, password } }));
    setUser(session.user);
  }, []);
  const register = useCallback(
    async (name: string, email: string, password: string) => {
      await ok(api.POST("/api/auth/register", { body: { name, email, password } }));
      await login(email, password);
    },
    [login],
  );
  const logout = useCallback(async () => {
    await ok(api.POST("/api/auth/logout")).catch(() => undefined);
    setUser(null);
  }, []);
  const isAdmin = user?.role === "admin";
  return (
    <AuthContext.Provider value={{ user, isAdmin, login, register, logout }}>{children}</AuthContext.Provider>
  );
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}
