import { Navigate, Route, Routes } from 'react-router-dom';
import { useMe } from './api/hooks';
import { errorMessage } from './api/client';
import { Layout } from './components/Layout';
import { BoardPage } from './pages/BoardPage';
import { CommunityPage } from './pages/CommunityPage';
import { LaunchpadPage } from './pages/LaunchpadPage';
import { LoginPage } from './pages/LoginPage';
import { MissionPage } from './pages/MissionPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { NotificationsPage } from './pages/NotificationsPage';
import { SettingsPage } from './pages/SettingsPage';
import { WorkstationConsolePage } from './pages/WorkstationConsolePage';
import { WorkstationsPage } from './pages/WorkstationsPage';
import { RealtimeProvider } from './realtime/RealtimeProvider';

export function App() {
  const me = useMe();

  if (me.isPending) {
    return (
      <p className="splash" role="status">
        Loading…
      </p>
    );
  }
  if (me.isError) {
    return (
      <div className="splash" role="alert">
        <p>{errorMessage(me.error)}</p>
        <button type="button" className="button" onClick={() => void me.refetch()}>
          Try again
        </button>
      </div>
    );
  }
  if (!me.data) return <LoginPage />;

  return (
    <RealtimeProvider me={me.data}>
      <Routes>
        <Route element={<Layout me={me.data} />}>
          <Route index element={<LaunchpadPage me={me.data} />} />
          <Route path="board" element={<BoardPage me={me.data} />} />
          <Route path="missions/:id" element={<MissionPage me={me.data} />} />
          <Route path="community" element={<CommunityPage me={me.data} />} />
          <Route path="workstations" element={<WorkstationsPage />} />
          <Route path="workstations/:id" element={<WorkstationConsolePage />} />
          <Route path="notifications" element={<NotificationsPage />} />
          <Route path="settings" element={<SettingsPage />} />
          <Route path="login" element={<Navigate to="/" replace />} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </RealtimeProvider>
  );
}
