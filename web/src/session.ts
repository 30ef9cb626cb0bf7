// The signed-in session (user, role) for any screen that hides what a read-only user cannot do.
import { createContext, useContext } from "react";
import type { Session } from "../../src/server/wire";

export const SessionContext = createContext<Session | undefined>(undefined);
export const useSession = () => useContext(SessionContext);
