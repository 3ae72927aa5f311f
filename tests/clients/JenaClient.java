// Drives shopgraph with Apache Jena (Debian's libapache-jena-java 4.5): RDFConnection queries,
// UpdateExecutionHTTP with using-graph-uri, the Graph Store Protocol on graphs and on the whole
// dataset, and many writes in a row over java.net.http (which offers `Upgrade: h2c` on every
// request). Run as a single-file program:
//   java -cp '/usr/share/java/*' tests/clients/JenaClient.java BASE_URL WRITES
// Prints one JSON object per case: {"case": ..., "ok": ..., "detail": ...}; the Rust test
// (tests/it/clients.rs) holds the table of cases that must pass.

import java.util.ArrayList;
import java.util.List;
import org.apache.jena.query.Dataset;
import org.apache.jena.query.DatasetFactory;
import org.apache.jena.query.QueryExecution;
import org.apache.jena.query.ResultSet;
import org.apache.jena.rdf.model.Model;
import org.apache.jena.rdf.model.ModelFactory;
import org.apache.jena.rdf.model.Resource;
import org.apache.jena.rdfconnection.RDFConnection;
import org.apache.jena.sparql.exec.http.GSP;
import org.apache.jena.sparql.exec.http.QueryExecutionHTTP;
import org.apache.jena.sparql.exec.http.UpdateExecutionHTTP;

public class JenaClient {
    interface Case {
        String run() throws Exception;
    }

    static final List<String> out = new ArrayList<>();

    static void run(String name, Case c) {
        boolean ok;
        String detail;
        try {
            detail = c.run();
            ok = true;
        } catch (Throwable e) {
            ok = false;
            detail = e.toString();
        }
        if (detail == null) detail = "";
        String esc = detail.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ");
        if (esc.length() > 400) esc = esc.substring(0, 400);
        System.out.println("{\"case\": \"" + name + "\", \"ok\": " + ok + ", \"detail\": \"" + esc + "\"}");
        System.out.flush();
    }

    static long count(String sparql, String graph) {
        String q = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <" + graph + "> { ?s ?p ?o } }";
        try (QueryExecution qe = QueryExecutionHTTP.service(sparql).query(q).build()) {
            return qe.execSelect().next().getLiteral("n").getLong();
        }
    }

    public static void main(String[] args) {
        String base = args[0];
        int writes = Integer.parseInt(args[1]);
        String queryPath = args.length > 2 ? args[2] : "/sparql";
        String updatePath = args.length > 3 ? args[3] : "/sparql";
        String storePath = args.length > 4 ? args[4] : "/store";
        String sparql = base + queryPath;
        String update = base + updatePath;
        String store = base + storePath;
        String sg = "https://w3id.org/shopgraph/ontology#";

        run("jena/rdfconnection-select", () -> {
            try (RDFConnection conn = RDFConnection.connect(sparql)) {
                int[] n = {0};
                conn.querySelect("SELECT ?r WHERE { ?r a <" + sg + "Review> } LIMIT 3", row -> n[0]++);
                if (n[0] != 3) throw new AssertionError("rows " + n[0]);
                return n[0] + " rows";
            }
        });
        run("jena/rdfconnection-ask-construct-describe", () -> {
            try (RDFConnection conn = RDFConnection.connect(sparql)) {
                if (!conn.queryAsk("ASK { ?r a <" + sg + "Review> }")) throw new AssertionError("ask false");
                Model m = conn.queryConstruct(
                        "CONSTRUCT { ?r <http://ex.org/p> ?x } WHERE { ?r <" + sg + "rating> ?x } LIMIT 3");
                if (m.size() != 3) throw new AssertionError("construct " + m.size());
                Model d = conn.queryDescribe("DESCRIBE ?r WHERE { ?r a <" + sg + "Review> } LIMIT 1");
                if (d.isEmpty()) throw new AssertionError("describe empty");
                return m.size() + " + " + d.size() + " triples";
            }
        });
        run("jena/updates-in-a-row", () -> {
            String g = "http://ex.org/clients/jena-updates";
            for (int i = 0; i < writes; i++) {
                UpdateExecutionHTTP.service(update)
                        .update("INSERT DATA { GRAPH <" + g + "> { <http://ex.org/s" + i + "> <http://ex.org/p> " + i + " } }")
                        .execute();
            }
            long n = count(sparql, g);
            if (n != writes) throw new AssertionError((writes - n) + " of " + writes + " updates lost");
            return n + " of " + writes + " stored";
        });
        run("jena/gsp-writes-in-a-row", () -> {
            String g = "http://ex.org/clients/jena-gsp";
            for (int i = 0; i < writes; i++) {
                Model m = ModelFactory.createDefaultModel();
                Resource s = m.createResource("http://ex.org/g" + i);
                s.addLiteral(m.createProperty("http://ex.org/p"), (long) i);
                GSP.service(store).graphName(g).POST(m.getGraph());
            }
            long n = count(sparql, g);
            if (n != writes) throw new AssertionError((writes - n) + " of " + writes + " GSP writes lost");
            return n + " of " + writes + " stored";
        });
        run("jena/gsp-put-get-delete-graph", () -> {
            String g = "http://ex.org/clients/jena-graph";
            Model m = ModelFactory.createDefaultModel();
            m.createResource("http://ex.org/a").addLiteral(m.createProperty("http://ex.org/p"), 1L);
            GSP.service(store).graphName(g).PUT(m.getGraph());
            long size = GSP.service(store).graphName(g).GET().size();
            if (size != 1) throw new AssertionError("size " + size);
            GSP.service(store).graphName(g).DELETE();
            return "ok";
        });
        run("jena/using-graph-uri", () -> {
            String src = "http://ex.org/clients/jena-src";
            String dst = "http://ex.org/clients/jena-dst";
            UpdateExecutionHTTP.service(update)
                    .update("INSERT DATA { GRAPH <" + src + "> { <http://ex.org/x> <http://ex.org/p> 1 } }")
                    .execute();
            UpdateExecutionHTTP.service(update)
                    .update("INSERT { GRAPH <" + dst + "> { ?s ?p ?o } } WHERE { ?s ?p ?o }")
                    .addUsingGraphURI(src)
                    .execute();
            long n = count(sparql, dst);
            if (n != 1) throw new AssertionError("copied " + n);
            return "ok";
        });
        run("jena/fetch-and-load-dataset", () -> {
            try (RDFConnection conn = org.apache.jena.rdfconnection.RDFConnectionRemote.newBuilder()
                    .destination(base)
                    .queryEndpoint(queryPath.substring(1))
                    .updateEndpoint(updatePath.substring(1))
                    .gspEndpoint(storePath.substring(1))
                    .build()) {
                Dataset ds = DatasetFactory.create();
                Model m = ModelFactory.createDefaultModel();
                m.createResource("http://ex.org/ds").addLiteral(m.createProperty("http://ex.org/p"), 7L);
                ds.addNamedModel("http://ex.org/clients/jena-dataset", m);
                conn.loadDataset(ds);
                Dataset back = conn.fetchDataset();
                if (!back.containsNamedModel("http://ex.org/clients/jena-dataset"))
                    throw new AssertionError("named graph missing from fetchDataset");
                return "ok";
            }
        });
        run("jena/query-with-default-graph-uri", () -> {
            try (QueryExecution qe = QueryExecutionHTTP.service(sparql)
                    .query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
                    .addDefaultGraphURI("http://ex.org/clients/jena-src")
                    .build()) {
                ResultSet rs = qe.execSelect();
                long n = rs.next().getLiteral("n").getLong();
                if (n != 1) throw new AssertionError("n " + n);
                return "ok";
            }
        });
    }
}
