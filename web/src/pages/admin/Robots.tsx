import Robots from '../project/Robots';

/** System-level robot accounts (system admins). */
export default function SystemRobots() {
  return (
    <div className="page">
      <h1>Robot Accounts</h1>
      <Robots can={() => true} />
    </div>
  );
}
