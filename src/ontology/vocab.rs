//! Every IRI shopgraph writes or reads, in one place: namespaces, classes, properties, graphs.

/// The shopgraph ontology namespace.
pub const SG: &str = "https://w3id.org/shopgraph/ontology#";
/// IRI of the ontology document itself (carries `owl:versionInfo`).
pub const ONTOLOGY: &str = "https://w3id.org/shopgraph/ontology";
/// Named graph holding the shopgraph ontology.
pub const GRAPH_ONTOLOGY: &str = "https://w3id.org/shopgraph/graph/ontology";
/// Named graph holding the Google product taxonomy as SKOS.
pub const GRAPH_TAXONOMY: &str = "https://w3id.org/shopgraph/graph/taxonomy";
/// Named graph holding load metadata (datasets, cleaning counts).
pub const GRAPH_META: &str = "https://w3id.org/shopgraph/graph/meta";
/// The taxonomy concept scheme and prefix of its concepts (`{TAXONOMY}{id}`).
pub const TAXONOMY: &str = "https://w3id.org/shopgraph/taxonomy/google/";
/// The concept scheme node of the taxonomy.
pub const TAXONOMY_SCHEME: &str = "https://w3id.org/shopgraph/taxonomy/google";
/// Prefix of the named graphs of extracted facts: `{prefix}{head id}/{head version}`.
pub const GRAPH_EXTRACTION: &str = "https://w3id.org/shopgraph/graph/extraction/";
/// Default base of instance IRIs (products, reviews, users...). Configurable.
pub const DEFAULT_BASE: &str = "https://w3id.org/shopgraph/id/";

/// Graphs of the vendored vocabularies, as their N-Quads files name them.
pub const GRAPH_SCHEMA_ORG: &str = "http://schema.org/";
/// GoodRelations graph.
pub const GRAPH_GOODRELATIONS: &str = "http://purl.org/goodrelations/v1#";
/// RDF Review vocabulary graph.
pub const GRAPH_REV: &str = "http://purl.org/stuff/rev#";
/// Graphs only an admin may write: the ontology, the taxonomy, the vendored vocabularies and
/// the load records.
pub const PROTECTED_GRAPHS: [&str; 8] = [
    GRAPH_ONTOLOGY,
    GRAPH_TAXONOMY,
    GRAPH_META,
    GRAPH_SCHEMA_ORG,
    GRAPH_GOODRELATIONS,
    GRAPH_REV,
    GRAPH_INFERRED,
    GRAPH_SHAPES,
];
/// Versions of the ontology and shapes graphs: their records, and under this IRI plus
/// `/{n}/ontology`, `/{n}/shapes` (and `/builtin/...`, the built-in last installed) their
/// snapshots.
pub const GRAPH_ONTOLOGY_HISTORY: &str = "https://w3id.org/shopgraph/graph/ontology-history";

/// Graphs only an admin writes: the ontology and its history, vocabularies, taxonomy, load
/// records, inferences and shapes.
pub fn is_protected(graph: &str) -> bool {
    PROTECTED_GRAPHS.contains(&graph) || graph.starts_with(GRAPH_ONTOLOGY_HISTORY)
}

/// Accepted `owl:sameAs` links between duplicate brands and products.
pub const GRAPH_FUSION: &str = "https://w3id.org/shopgraph/graph/fusion";
/// `owl:sameAs`.
pub const OWL_SAME_AS: &str = "http://www.w3.org/2002/07/owl#sameAs";

/// The SHACL shapes graph (`ontology/shapes.ttl` until an engineer replaces it).
pub const GRAPH_SHAPES: &str = "https://w3id.org/shopgraph/graph/shapes";

pub const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
/// Where `shopgraph reason` materialises what the ontology implies about the shop's data.
pub const GRAPH_INFERRED: &str = "https://w3id.org/shopgraph/graph/inferred";

/// Machine facts held for review (confidence under their kind's threshold).
pub const GRAPH_QUEUE: &str = "https://w3id.org/shopgraph/graph/queue";

/// Review decisions (accepted and rejected facts, who and when): the labelled data they make.
pub const GRAPH_DECISIONS: &str = "https://w3id.org/shopgraph/graph/decisions";
pub const RDFS_SUB_CLASS_OF: &str = "http://www.w3.org/2000/01/rdf-schema#subClassOf";
pub const RDFS_SUB_PROPERTY_OF: &str = "http://www.w3.org/2000/01/rdf-schema#subPropertyOf";
pub const RDFS_DOMAIN: &str = "http://www.w3.org/2000/01/rdf-schema#domain";
pub const RDFS_RANGE: &str = "http://www.w3.org/2000/01/rdf-schema#range";
pub const OWL_EQUIVALENT_CLASS: &str = "http://www.w3.org/2002/07/owl#equivalentClass";
pub const OWL_EQUIVALENT_PROPERTY: &str = "http://www.w3.org/2002/07/owl#equivalentProperty";
pub const OWL_INVERSE_OF: &str = "http://www.w3.org/2002/07/owl#inverseOf";
pub const OWL_TRANSITIVE_PROPERTY: &str = "http://www.w3.org/2002/07/owl#TransitiveProperty";
pub const SKOS_BROADER_TRANSITIVE: &str = "http://www.w3.org/2004/02/skos/core#broaderTransitive";
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
pub const RDFS_LABEL: &str = "http://www.w3.org/2000/01/rdf-schema#label";
pub const OWL_VERSION_INFO: &str = "http://www.w3.org/2002/07/owl#versionInfo";
pub const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
pub const SKOS_CONCEPT: &str = "http://www.w3.org/2004/02/skos/core#Concept";
pub const SKOS_CONCEPT_SCHEME: &str = "http://www.w3.org/2004/02/skos/core#ConceptScheme";
pub const SKOS_BROADER: &str = "http://www.w3.org/2004/02/skos/core#broader";
pub const SKOS_PREF_LABEL: &str = "http://www.w3.org/2004/02/skos/core#prefLabel";
pub const SKOS_NOTATION: &str = "http://www.w3.org/2004/02/skos/core#notation";
pub const SKOS_IN_SCHEME: &str = "http://www.w3.org/2004/02/skos/core#inScheme";
pub const SKOS_TOP_CONCEPT_OF: &str = "http://www.w3.org/2004/02/skos/core#topConceptOf";
pub const XSD_INTEGER: &str = "http://www.w3.org/2001/XMLSchema#integer";
pub const XSD_DECIMAL: &str = "http://www.w3.org/2001/XMLSchema#decimal";
pub const XSD_DOUBLE: &str = "http://www.w3.org/2001/XMLSchema#double";
pub const XSD_BOOLEAN: &str = "http://www.w3.org/2001/XMLSchema#boolean";
pub const XSD_DATE_TIME: &str = "http://www.w3.org/2001/XMLSchema#dateTime";
pub const SCHEMA_IN_STOCK: &str = "http://schema.org/InStock";
pub const SCHEMA_OUT_OF_STOCK: &str = "http://schema.org/OutOfStock";
pub const SCHEMA_PRE_ORDER: &str = "http://schema.org/PreOrder";

/// Builds `sg:{local}` at compile time.
macro_rules! sg {
    ($($name:ident = $local:literal;)*) => {
        $(#[doc = concat!("`sg:", $local, "`")]
        pub const $name: &str = concat!("https://w3id.org/shopgraph/ontology#", $local);)*
    };
}

sg! {
    PRODUCT = "Product";
    BRAND = "Brand";
    CATEGORY = "Category";
    OFFER = "Offer";
    REVIEW = "Review";
    USER = "User";
    INTERACTION = "Interaction";
    DATASET = "Dataset";
    VIEW = "View";
    CLICK = "Click";
    ADD_TO_CART = "AddToCart";
    PURCHASE = "Purchase";
    RATING_EVENT = "Rating";
    PRODUCT_ID = "productId";
    NAME = "name";
    DESCRIPTION = "description";
    HAS_BRAND = "brand";
    HAS_CATEGORY = "category";
    SOURCE_CATEGORY = "sourceCategory";
    HAS_OFFER = "offer";
    PRICE = "price";
    CURRENCY = "currency";
    AVAILABILITY = "availability";
    REVIEW_OF = "reviewOf";
    RATING = "rating";
    TITLE = "title";
    TEXT = "text";
    AUTHOR = "author";
    RECOMMENDED = "recommended";
    HELPFUL_VOTES = "helpfulVotes";
    REVIEWER_AGE = "reviewerAge";
    HAS_USER = "user";
    ITEM = "item";
    INTERACTION_TYPE = "interactionType";
    TIMESTAMP = "timestamp";
    WEIGHT = "weight";
    VALUE = "value";
    LOADED_AT = "loadedAt";
    ROW_COUNT = "rowCount";
    REJECTED_COUNT = "rejectedCount";
    EXTRACTION_RUN = "ExtractionRun";
    MODEL_CLASS = "Model";
    ASPECT_MENTION = "AspectMention";
    ATTRIBUTE_MENTION = "AttributeMention";
    SENTIMENT_JUDGEMENT = "SentimentJudgement";
    HAS_MODEL = "model";
    MODEL_VERSION = "modelVersion";
    GENERATED_BY = "generatedBy";
    EXTRACTED_BY = "extractedBy";
    ABOUT = "about";
    MENTION_IN = "mentionIn";
    MENTIONS = "mentions";
    CANDIDATE = "candidate";
    NEEDS_REVIEW = "needsReview";
    HAS_ASPECT = "aspect";
    HAS_ATTRIBUTE = "attribute";
    SENTIMENT = "sentiment";
    CONFIDENCE = "confidence";
    DETECTION_METHOD = "detectionMethod";
    HELD_BECAUSE = "heldBecause";
    TARGET_GRAPH = "targetGraph";
    CONTEXT_TEXT = "contextText";
    DECISION = "decision";
    DECIDED_BY = "decidedBy";
    DECIDED_AT = "decidedAt";
    SOURCE_TEXT = "sourceText";
    SPAN_START = "spanStart";
    SPAN_END = "spanEnd";
    ONTOLOGY_VERSION_CLASS = "OntologyVersion";
    ASPECT = "Aspect";
    SAME_AS_CANDIDATE = "SameAsCandidate";
    STALE = "stale";
    GTIN = "gtin";
    ATTRIBUTE_VALUE = "AttributeValue";
    VERSION_NUMBER = "versionNumber";
    VERSION_SOURCE = "versionSource";
    CHANGE_NOTE = "changeNote";
    CREATED_BY = "createdBy";
    CREATED_AT = "createdAt";
    SEARCH_EVENT = "SearchEvent";
    QUERY_TEXT = "query";
    RESULT_COUNT = "resultCount";
    CLICKED = "clicked";
    CLICK_POSITION = "clickPosition";
    SEARCHED_BY = "searchedBy";
    SEARCHED_AT = "searchedAt";
}

/// Searches shoppers ran and what they clicked (`POST /search/events`).
pub const GRAPH_SEARCH_LOG: &str = "https://w3id.org/shopgraph/graph/search-log";

/// `prov:startedAtTime`.
pub const PROV_STARTED_AT_TIME: &str = "http://www.w3.org/ns/prov#startedAtTime";

/// `prov:endedAtTime`: set on an extraction run each time it finishes uninterrupted.
pub const PROV_ENDED_AT_TIME: &str = "http://www.w3.org/ns/prov#endedAtTime";

/// Version of the shipped ontology; must match `owl:versionInfo` in ontology/shopgraph.ttl.
pub const ONTOLOGY_VERSION: &str = "1.6.0";
