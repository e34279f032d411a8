-- One database per service (database-per-service); the image runs this once, on an
-- empty data volume. Each service creates its own tables through its migrations.
CREATE DATABASE users;
CREATE DATABASE products;
CREATE DATABASE orders;
CREATE DATABASE payments;
