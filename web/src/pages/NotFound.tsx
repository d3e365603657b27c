import { Link } from '../router';

export default function NotFound() {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p>
        <Link to="/projects">Go to projects</Link>
      </p>
    </div>
  );
}
